"""ned.app: the local web app (``ned app``; Gradio, the ``[app]`` extra).

:mod:`ned.app.session` is the app's logic without any web framework (open a clip, list its
faces, turn the choices on the page into a timeline, preview a frame, render, export and
import the timeline file); :mod:`ned.app.ui` lays it out with Gradio.
"""
