"""The web page of ``ned app`` (Gradio): open a clip, pick the face, choose the edit, see
any frame at once, render, play source and edit side by side, download; export and import
the timeline file ``ned edit --timeline`` reads.

Every element a test drives has an ``elem_id`` (``clip``, ``face``, ``emotion``,
``intensity``, ``start``, ``end``, ``segments``, ``ctl-<control>``, ``time``, ``preview``,
``latency``, ``render``, ``result``, ``download``, ``export``, ``timeline-file``,
``import``, ``command``, ``status``).
"""

import os
import tempfile
from pathlib import Path

import numpy as np

from ned.blendshapes import EMOTIONS
from ned.editing.controls import BY_NAME, NAMES
from ned.errors import NedError

#: Environment the app sets before Gradio is imported: no usage statistics, no update
#: check, nothing fetched from a hub (the page works offline).
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_SSR_MODE": "False"}


def build(workdir: str | os.PathLike | None = None, clip: str | os.PathLike | None = None):
    """The Gradio Blocks of the app (not launched).

    Args:
        workdir: folder for the outputs (None: a new temporary folder).
        clip: a clip to open at start (None: the page's upload).
    """
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    import gradio as gr

    from ned.app.session import AppSession, Choices, command_line, imported_choices

    work = Path(workdir or tempfile.mkdtemp(prefix="ned-app-"))
    session = AppSession(work)
    state: dict = {"imported": None}

    def choices(emotion, intensity, start, end, segments, *controls) -> Choices:
        return Choices(emotion=None if emotion == "none" else emotion,
                       intensity=float(intensity), start=float(start or 0),
                       end=float(end) if end else None, segments=segments or "",
                       controls={n: float(v) for n, v in zip(NAMES, controls) if v},
                       imported=state["imported"])

    def timeline_of(*values):
        return choices(*values).timeline()

    def side_by_side(src: np.ndarray, edited: np.ndarray) -> np.ndarray:
        return np.concatenate([src, edited], axis=1)

    def opened(path, face):
        if path is None:
            return (gr.update(), gr.update(), "open a clip", gr.update(), gr.update(),
                    gr.update())
        p = Path(path if isinstance(path, str) else path.name)
        report = session.open(p, int(face or 0))
        thumbs = [(f.thumbnail, f"face {f.index}: {f.first:.1f}-{f.last:.1f} s, "
                                f"{f.size:.0f} px") for f in report.faces]
        d = round(session.duration, 2)
        status = "; ".join(report.lines())
        return (thumbs, gr.update(maximum=max(0, len(report.faces) - 1), value=0),
                status, gr.update(maximum=d, value=0), gr.update(maximum=d, value=d),
                str(p))

    def show(t, *values):
        if session.previewer is None:
            return None, "open a clip first", None, ""
        try:
            tl = timeline_of(*values)
            src, edited, ms = session.preview(tl, float(t or 0))
        except NedError as e:
            return None, f"error: {e}", None, ""
        frame = session.frame_at(float(t or 0))
        text = (f"frame {frame} ({session.previewer.times[frame]:.2f} s): preview "
                f"{ms:.0f} ms" + ("" if tl is not None else " (no edit chosen)"))
        cmd = command_line(session.video.name, "timeline.json", session.face_index, 0,
                           None) if tl is not None else ""
        return side_by_side(src, edited), text, session.timeline_image(tl, t), cmd

    def pick_face(face):
        if session.video is None:
            return "open a clip first"
        try:
            session.select_face(int(face))
        except NedError as e:
            return f"error: {e}"
        return f"face {int(face)} selected"

    def gallery_pick(evt: gr.SelectData):
        return evt.index

    def render(crf, mark, *values, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        try:
            out = session.render(timeline_of(*values), int(crf), mark or None)
        except NedError as e:
            return None, None, f"error: {e}"
        return str(out), str(out), f"rendered {out.name}"

    def export(*values):
        try:
            return str(session.export(timeline_of(*values))), "timeline exported"
        except NedError as e:
            return None, f"error: {e}"

    def do_import(path):
        if path is None:
            return [gr.update()] * (1 + len(NAMES)) + ["no file"]
        try:
            c = imported_choices(path if isinstance(path, str) else path.name)
        except NedError as e:
            return [gr.update()] * (1 + len(NAMES)) + [f"error: {e}"]
        state["imported"] = c.imported
        return ([gr.update(value="")] + [gr.update(value=c.controls.get(n, 0.0))
                                         for n in NAMES] + ["timeline imported"])

    with gr.Blocks(title="ned: direct the face") as app:
        gr.Markdown("## ned: change the emotion of a face, keep the speech")
        with gr.Row():
            clip_in = gr.File(label="clip", file_types=["video"], elem_id="clip")
            gallery = gr.Gallery(label="faces (click to pick)", columns=4, height=180,
                                 elem_id="faces", allow_preview=False)
            with gr.Column():
                face = gr.Number(label="face index", value=0, precision=0, minimum=0,
                                 elem_id="face")
                status = gr.Textbox(label="status", interactive=False, elem_id="status")
                clip_path = gr.Textbox(visible=False, elem_id="clip-path")
        with gr.Row():
            with gr.Column(scale=1):
                emotion = gr.Dropdown(["none", *EMOTIONS], value="none", label="emotion",
                                      elem_id="emotion")
                intensity = gr.Slider(0, 1.5, 1.0, step=0.05, label="intensity",
                                      elem_id="intensity")
                start = gr.Slider(0, 10, 0, step=0.05, label="from (s)", elem_id="start")
                end = gr.Slider(0, 10, 10, step=0.05, label="until (s)", elem_id="end")
                segments = gr.Textbox(label="more segments (0-2.5:happy,2.5-6:sad@0.6)",
                                      elem_id="segments")
                with gr.Accordion("expression controls", open=True):
                    sliders = [gr.Slider(-1, 1, 0, step=0.05, label=n,
                                         info=BY_NAME[n].help, elem_id=f"ctl-{n}")
                               for n in NAMES]
            with gr.Column(scale=2):
                t = gr.Slider(0, 10, 0, step=0.01, label="time (s)", elem_id="time")
                preview = gr.Image(label="source | edit (this frame)", elem_id="preview",
                                   interactive=False, format="jpeg")
                latency = gr.Textbox(label="preview", interactive=False, elem_id="latency")
                strip = gr.Image(label="timeline", interactive=False, elem_id="strip",
                                 format="png")
                with gr.Row():
                    crf = gr.Number(label="crf (0 = lossless)", value=16, precision=0,
                                    minimum=0, maximum=51, elem_id="crf")
                    mark = gr.Textbox(label="visible mark (empty: none)", elem_id="mark")
                    render_btn = gr.Button("render the clip", variant="primary",
                                           elem_id="render")
                with gr.Row():
                    source_video = gr.Video(label="source", format=None, elem_id="source",
                                            interactive=False)
                    result = gr.Video(label="edit", format=None, elem_id="result",
                                      interactive=False)
                download = gr.File(label="download the edit", elem_id="download")
                with gr.Row():
                    export_btn = gr.Button("export timeline", elem_id="export")
                    timeline_file = gr.File(label="timeline file", elem_id="timeline-file")
                    import_file = gr.File(label="import a timeline", file_types=[".json"],
                                          elem_id="import")
                command = gr.Textbox(label="the same edit in batch", interactive=False,
                                     elem_id="command")
        values = [emotion, intensity, start, end, segments, *sliders]
        shown = [preview, latency, strip, command]
        clip_in.upload(opened, [clip_in, face], [gallery, face, status, start, end,
                                                 clip_path]) \
            .then(lambda p: (gr.update(maximum=round(session.duration, 2), value=0), p),
                  [clip_path], [t, source_video]) \
            .then(show, [t, *values], shown)
        gallery.select(gallery_pick, None, face)
        face.change(pick_face, face, status).then(show, [t, *values], shown)
        for c in [t, *values]:
            c.change(show, [t, *values], shown)
        render_btn.click(render, [crf, mark, *values], [result, download, status])
        export_btn.click(export, values, [timeline_file, status])
        import_file.upload(do_import, import_file, [segments, *sliders, status]) \
            .then(show, [t, *values], shown)
        if clip is not None:
            app.load(lambda: opened(str(clip), 0),
                     None, [gallery, face, status, start, end, clip_path]) \
                .then(lambda p: (gr.update(maximum=round(session.duration, 2), value=0), p),
                      [clip_path], [t, source_video]) \
                .then(show, [t, *values], shown)
    app.ned_session = session
    return app


def launch(host: str = "127.0.0.1", port: int | None = None, clip: str | None = None,
           workdir: str | None = None, block: bool = True):
    """Build and serve the app (localhost only unless ``host`` says otherwise)."""
    app = build(workdir, clip)
    work = str(app.ned_session.workdir)
    allowed = [work] + ([str(Path(clip).resolve().parent)] if clip else [])
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=False, inbrowser=False,
               prevent_thread_lock=not block, show_error=True, quiet=not block,
               allowed_paths=allowed, ssr_mode=False, footer_links=[])
    return app
