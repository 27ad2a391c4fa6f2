"""``roofline fit --fit ...`` and ``roofline validate`` under a runtime: the command bodies.

``cli/calibration.py`` parses the options and calls these when a runtime is involved: a fit
that names what it fits (``--fit runtime`` or ``--fit peak,bandwidth``), or a validation on a
profile whose runtime runs its own graph or carries parameters.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import click

from roofline.cli.base import check_output, write_output
from roofline.errors import RooflineError

__all__ = ["default_fusion", "fit_command", "runtime_applies", "validate_command"]


def runtime_applies(runtime: Any) -> bool:
    """Whether a runtime changes what validate computes (its own graph, or parameters)."""
    return runtime is not None and (runtime.graph != "torch" or bool(runtime.parameters))


def default_fusion(profile: Any, fusion: str | None, runtime: str | None = None) -> str:
    """``--fusion`` as given, else the fusion of the profile's runtime, else ``none``."""
    if fusion:
        return fusion
    # deferred: pandas, yaml and the readers stay out of `roofline --help`
    from roofline.calibration.runtime_data import profile_runtime

    rt = profile_runtime(profile, runtime) if profile is not None else None
    return rt.fusion if rt is not None else "none"


def _command(measurements: str, hw: str, spec: str, runtime: str | None) -> str:
    return (f"roofline fit {measurements} --hw {hw} --fit {spec}"
            + (f" --runtime {runtime}" if runtime else ""))


def fit_command(measurements: str, hw: str | None, spec: str, runtime: str | None,
                dtype: str | None, threads: int | None, cv: bool, fmt: str,
                output: str | None) -> None:
    """Fit what ``spec`` names (``runtime``; ``peak``, ``bandwidth``) under the base profile's
    runtime; report (table or JSON) and, with ``output``, write the fitted runtime (for
    ``--fit runtime``) or the fitted profile (for the device's scalars)."""
    # deferred: pandas, yaml and the readers stay out of `roofline --help`
    from roofline.calibration.measure import layer_tables
    from roofline.calibration.runtime_data import profile_runtime, runtime_dataset
    from roofline.calibration.runtime_fit import (
        DEVICE_SCALARS,
        parse_free,
        runtime_fit_report,
    )
    from roofline.calibration.timing import check_threads
    from roofline.hardware.registry import get_profile
    from roofline.latency.runtime_model import DeviceRoofs
    from roofline.models.zoo import resolve
    from roofline.render.report import to_json
    from roofline.render.runtime import runtime_fit_text

    if hw is None:
        raise RooflineError("--fit needs a base profile: pass --hw (its runtime and its peak "
                            "and bandwidth are the starting point)")
    check_output(output, [measurements, hw, runtime])
    if threads is not None:
        check_threads(threads)
    base = get_profile(hw)
    rt = profile_runtime(base, runtime)
    if rt is None:
        raise RooflineError(f"{base.id} names no runtime (a 'runtime:' line in its profile); "
                            "pass --runtime litert_xnnpack, torch_eager, ...")
    free = parse_free(spec, rt)
    data, _, what = runtime_dataset(measurements, rt, layer_tables=layer_tables, dtype=dtype,
                                    threads=threads, default_dtype=base.default_dtype,
                                    check_model=resolve)
    d = data.keys[0][2]
    if d not in base.peak_macs_per_s:
        raise RooflineError(f"{base.id} has no {d} peak (it has {', '.join(base.dtypes)}); "
                            f"the measurements are {d}")
    device = DeviceRoofs.of(base, d)
    report, fitted = runtime_fit_report(data, device, rt, free, cv=cv)
    cmd = _command(measurements, hw, spec, runtime)
    report.update({"measurements": measurements, "dtype": d, "graph": what, "runtime": rt.id,
                   "base": base.id, "command": cmd, "written": output})
    text = None
    if output:
        if any(n not in DEVICE_SCALARS for n in fitted.free):
            text = _runtime_text(rt, fitted, cmd, report)
        else:
            text = _profile_text(base, rt, runtime, fitted, d, cmd, report, output)
    click.echo(to_json(report) if fmt == "json" else runtime_fit_text(report))
    if output and text is not None:
        write_output(output, text, [measurements, hw, runtime])
        if fmt != "json":
            kind = "--runtime" if any(n not in DEVICE_SCALARS for n in fitted.free) else "--hw"
            click.echo(f"wrote {output}; use it with {kind} {output}")


def _stats_line(report: dict[str, Any]) -> str:
    s = (f"{report['n_models']} models, in-sample MAPE {report['mape']:.1f} %, r_s "
         f"{report['spearman_runtime']:.3f}")
    if "loo" in report:
        s += f", leave-one-out MAPE {report['loo']['mape']:.1f} %"
    return s


def _runtime_text(rt: Any, fitted: Any, cmd: str, report: dict[str, Any]) -> str:
    # deferred: pandas, yaml and the readers stay out of `roofline --help`
    from roofline.hardware.runtime import PARAMETERS, parse_runtime, runtime_yaml

    today = datetime.date.today().isoformat()
    source = f"`{cmd}` ({today})"
    notes = {}
    for k in fitted.free:
        if k not in PARAMETERS:
            continue
        extra = ""
        if k.endswith("_macs"):
            extra = (f"; {fitted.values[k] / fitted.device.peak * 1e6:.3g} us on "
                     f"{report['base']} ({fitted.device.peak / 1e9:.3g} GMAC/s)")
        notes[k] = PARAMETERS[k] + extra
    new = rt.with_parameters({k: fitted.values[k] for k in fitted.free if k in PARAMETERS},
                             basis="fitted", source=source, notes=notes)
    header = (f"Fitted by `{cmd}` on {today}: {_stats_line(report)}.\n"
              "Re-run the command to refresh; edit nothing by hand but the name/description.")
    text = runtime_yaml(new, header)
    # deferred: pandas, yaml and the readers stay out of `roofline --help`
    import yaml

    parse_runtime(yaml.safe_load(text), "<fitted runtime>", rt.id)  # written only if it loads
    return text


def _profile_text(base: Any, rt: Any, runtime_spec: str | None, fitted: Any, dtype: str,
                  cmd: str, report: dict[str, Any], output: str) -> str:
    # deferred: pandas, yaml and the readers stay out of `roofline --help`
    from roofline.hardware.io import check_profile_text, profile_yaml

    today = datetime.date.today().isoformat()
    src = f"{cmd} ({today})"
    stats = _stats_line(report)
    scale = fitted.device.peak / base.roof(dtype).peak_macs_per_s
    peaks = {}
    for d in base.dtypes:
        if "peak" not in fitted.free:
            peaks[d] = base.peak_macs_per_s[d].to_dict()
            continue
        note = (f"effective peak under runtime {rt.id}, fitted"
                if d == dtype else f"the base's {d} peak scaled by the fitted {dtype} peak "
                f"({scale:.3g}x)")
        peaks[d] = {"value": base.peak(d) * scale if d != dtype else fitted.device.peak,
                    "basis": "fitted", "source": src, "note": note}
    bw = (base.roof(dtype).mem_bw_bytes_per_s if "bandwidth" not in fitted.free
          else fitted.device.mem_bw_bytes_per_s)
    bw_fig = ({"value": bw, "basis": "fitted", "source": src,
               "note": f"effective DRAM bandwidth under runtime {rt.id}"}
              if "bandwidth" in fitted.free else base.mem_bw_bytes_per_s.to_dict())
    data: dict[str, Any] = {
        "name": f"{base.name} [fitted: {Path(report['measurements']).name}]",
        "kind": base.kind,
        "default_dtype": dtype,
        "description": (f"{', '.join(fitted.free)} fitted to measured latencies under runtime "
                        f"{rt.id} ({report['measurements']}, {today}): {stats}. The runtime's "
                        f"parameters are held. Started from {base.id} ({base.name})."),
        "peak_macs_per_s": peaks,
        "mem_bw_bytes_per_s": bw_fig,
        # a runtime file is named by its absolute path: the profile may be read from elsewhere
        "runtime": str(Path(rt.path).resolve()) if runtime_spec and rt.path and (
            runtime_spec.lower().endswith((".yaml", ".yml"))) else rt.id,
    }
    if base.onchip_bytes is not None:
        data["onchip_bytes"] = base.onchip_bytes.to_dict()
    text = profile_yaml(data, f"Fitted by `{cmd}`.")
    check_profile_text(text, output)
    return text


def validate_command(profile: Any, runtime: Any, measurements: str, dtype: str | None,
                     threads: int | None, plot: str | None, fmt: str,
                     output: str | None) -> None:
    """``roofline validate`` under ``runtime``: the runtime-aware prediction per model, with
    the plain roofline over the same graph and MAC counting beside it."""
    # deferred: pandas, yaml and the readers stay out of `roofline --help`
    from roofline.calibration.measure import layer_tables
    from roofline.calibration.runtime_data import runtime_validation
    from roofline.models.zoo import resolve
    from roofline.render.report import to_json
    from roofline.render.runtime import runtime_validation_text

    v = runtime_validation(measurements, profile, runtime, layer_tables=layer_tables,
                           dtype=dtype, threads=threads, check_model=resolve)
    if plot:
        # deferred: pandas, yaml and the readers stay out of `roofline --help`
        import pandas as pd

        # deferred: pandas, yaml and the readers stay out of `roofline --help`
        from roofline.plots.figures import figure_bytes
        from roofline.plots.validation import scatter

        title = (f"{profile.name} under {runtime.id}: predicted vs measured "
                 f"({Path(measurements).name})")
        fig = scatter(pd.DataFrame(v["models"]), title=title, stats=v, layers=None,
                      layer_stats=None)
        write_output(plot, figure_bytes(fig, Path(plot).suffix))
    if fmt == "json":
        text = to_json(v)
    elif fmt == "csv":
        # deferred: pandas, yaml and the readers stay out of `roofline --help`
        import pandas as pd

        text = pd.DataFrame(v["models"]).to_csv(index=False, float_format="%.6g")
    else:
        text = runtime_validation_text(v, plot)
    write_output(output, text)
