"""The command line: ``roofline COMMAND``. One module per command group, each thin: parse
the options, call the library, render."""

from roofline.cli import (analyze, cache, calibration, compare, hardware, report, runtimes,
                          survey, sweep, zoo)
from roofline.cli.base import main

for _command in (analyze.analyze, hardware.hw, cache.cache_group, survey.survey, sweep.sweep,
                 sweep.plot, calibration.bench, calibration.measure, calibration.fit,
                 calibration.validate, zoo.zoo, compare.compare, report.report,
                 runtimes.export_cmd):
    main.add_command(_command)

__all__ = ["main"]
