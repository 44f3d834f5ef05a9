"""ned.metrics: measuring an edit against its source (``ned evaluate``).

Modules (imported on use, so importing this package is cheap):

- ``evaluate``: :func:`evaluate` / ``evaluate_detailed`` (one streamed pass over both clips),
  ``classify_video``, ``segment_fractions``, ``EvalConfig``.
- ``pixel``: APD, FAPD, MAPD, face PSNR / SSIM, difference outside the face.
- ``identity``: dlib face-recognition embeddings (optional extra), Frechet distance.
- ``speech``: jawOpen and inner-lip correlations, syllable amplitude ratio, mouth landmark
  error, landmark jitter.
- ``expression``: whether an edit shows its emotion: the target table's channel groups and
  geometric measures (IOD, face frame), re-measured on the output.
- ``emotion``: the emotion classifiers behind one interface (``EmotionClassifier``:
  ``faceapi`` default, ``fer``, ``ensemble``); face-api's expression net ported to PyTorch.
- ``fer_net``: fer's mini-Xception ported to PyTorch (shipped weights).
- ``protocols``: self-translation (paper Table 1 layout) and all-emotions protocols.
- ``report``: text tables, JSON / CSV / markdown writers, charts.
"""
