"""explain_ref.py - an independent numpy/scipy computation of ct-explain's Grad-CAM from the
activation maps it dumps (--dump), the model file and the images file, compared with what
ct-explain wrote. Prints one line per check: "ok NAME max_error" or "bad NAME max_error".
Usage: explain_ref.py MODEL.h5 IMAGES.h5 DUMP.h5 EXPLAIN.json [SCORES.tsv]"""
import json
import sys

import h5py
import numpy as np
from scipy import ndimage

model_p, images_p, dump_p, json_p = sys.argv[1:5]
scores_p = sys.argv[5] if len(sys.argv) > 5 else None


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def check(name, err, tol):
    print("%s %s %.3g" % ("ok" if err <= tol else "bad", name, err))


with h5py.File(model_p, "r") as f:
    hd = f["head"]
    kind = s(hd.attrs["type"])
    mean, std = hd["mean"][()].astype(np.float64), hd["std"][()].astype(np.float64)
    w1, b1 = hd["w1"][()].astype(np.float64), hd["b1"][()].astype(np.float64)
    w2 = hd["w2"][()].astype(np.float64) if kind == "mlp" else None
    b2 = hd["b2"][()].astype(np.float64) if kind == "mlp" else None
    classes = [s(c) for c in f["class_names"][()]]
    bl = f["blocks"]
    blocks = [dict(name=s(n), pool=s(p), start=int(a), width=int(b))
              for n, p, a, b in zip(bl["name"][()], bl["pool"][()], bl["start"][()], bl["width"][()])]
doc = json.load(open(json_p))
pos = classes.index(doc["positive_class"])
l2 = doc["model"]["fusion"]["l2"]
wt = doc["model"]["fusion"]["weight"]


def logits(x):
    """Head logits of fused rows x (n x d), float64."""
    z = ((x - mean) / std) @ w1 + b1
    if kind == "mlp":
        z = np.maximum(z, 0) @ w2 + b2
    return z


def score_of_pooled(pooled):
    """Log-odds of the positive class from the raw pooled features (through the fusion)."""
    x = pooled.copy()
    for b in blocks:
        seg = x[..., b["start"]:b["start"] + b["width"]]
        if l2:
            nrm = np.sqrt((seg ** 2).sum(-1, keepdims=True))
            seg[...] = np.where(nrm > 0, wt * seg / np.where(nrm > 0, nrm, 1), 0)
        else:
            seg *= wt
    z = logits(x)
    return z[..., pos] - z[..., 1 - pos]


with h5py.File(dump_p, "r") as d:
    rows = d["rows"][()]
    act = d["act"][()].astype(np.float64)
    cut_c = d["cut"][()]
    heat_c = d["heat"][()]
    bheat_c = d["block_heat"][()]
    feats_c = d["features"][()]
    gpool_c = d["gpooled"][()]
    p_c = d["p"][()]
    shapes = d["cut_shape"][()]
n = len(rows)
with h5py.File(images_p, "r") as f:
    H, W = f["images"].shape[1:3]
    mask = f["lung_mask"][()][rows].reshape(n, H, W) if "lung_mask" in f else None
    names = [s(x) for x in f["names"][()]]



def lung_weights(h, w):
    """Cell weights of each image's lung field over an h x w map (ct-features --pool lung-*):
    every mask pixel split into h x w sub-pixels, so that each cell holds exactly H x W."""
    m = (mask > 0).astype(np.float64)
    rows = np.repeat(m, h, axis=1).reshape(n, h, H, W).sum(axis=2)
    return np.repeat(rows, w, axis=2).reshape(n, h, w, W).sum(axis=3) / (H * W)


# 1. pooled features from the activation maps (ct-features' pooling), then fused
maps, at = [], 0
pooled = np.zeros((n, feats_c.shape[1]))
wts = []
for b, (h, w, c) in zip(blocks, shapes):
    a = act[:, at:at + h * w * c].reshape(n, h, w, c)
    at += h * w * c
    maps.append(a)
    lw = lung_weights(h, w) if b["pool"].startswith("lung-") else None
    if lw is not None:                                  # an empty lung field: the whole map
        lw = np.where(lw.sum(axis=(1, 2), keepdims=True) > 0, lw, 1.0)
    wts.append(lw)
    if b["pool"] == "lung-avg":
        pooled[:, b["start"]:b["start"] + c] = (lw[..., None] * a).sum(axis=(1, 2)) / lw.sum(axis=(1, 2))[:, None]
    elif b["pool"] == "lung-max":
        pooled[:, b["start"]:b["start"] + c] = np.where(lw[..., None] > 0, a, -np.inf).max(axis=(1, 2))
    elif b["pool"] == "avg":
        pooled[:, b["start"]:b["start"] + c] = a.mean(axis=(1, 2))
    elif b["pool"] == "max":
        pooled[:, b["start"]:b["start"] + c] = a.max(axis=(1, 2))
    else:
        pooled[:, b["start"]:b["start"] + b["width"]] = a.reshape(n, -1)
fused = pooled.copy()
for b in blocks:
    seg = fused[:, b["start"]:b["start"] + b["width"]]
    if l2:
        seg[...] = wt * seg / np.sqrt((seg ** 2).sum(-1, keepdims=True))
    else:
        seg *= wt
check("fused features from the dumped maps", np.abs(fused - feats_c).max() / max(1, np.abs(fused).max()), 1e-5)

# 2. probability
z = logits(fused)
p = 1 / (1 + np.exp(-(z[:, pos] - z[:, 1 - pos])))
check("probability of the positive class", np.abs(p - p_c).max(), 1e-5)
if scores_p:
    # ct-score's probabilities of the same images (features from ct-features, not from ct-explain)
    sc = {}
    for line in open(scores_p).read().splitlines()[1:]:
        f_ = line.split("\t")
        sc[f_[0]] = float(f_[3])
    check("probability equals ct-score's", max(abs(sc[names[r]] - pi) for r, pi in zip(rows, p)), 1e-5)

# 3. gradient of the score w.r.t. the pooled features by central differences (float64)
g = np.zeros_like(pooled)
eps = 1e-5
for j in range(pooled.shape[1]):
    e = np.zeros(pooled.shape[1])
    e[j] = eps
    g[:, j] = (score_of_pooled(pooled + e) - score_of_pooled(pooled - e)) / (2 * eps)
check("d score / d pooled features (finite differences)", np.abs(g - gpool_c).max() / max(1e-9, np.abs(g).max()), 1e-4)

# 4. Grad-CAM per block at the cut, from the paper's definition via the chain rule
cuts, at = [], 0
worst = 0
for b, a, lw, (h, w, c) in zip(blocks, maps, wts, shapes):
    gb = g[:, b["start"]:b["start"] + b["width"]]
    if b["pool"] == "lung-avg":                          # d f_k / d A_k(s) = w_s / sum(w)
        dA = gb[:, None, None, :] * (lw / lw.sum(axis=(1, 2), keepdims=True))[..., None]
    elif b["pool"] == "lung-max":                        # the first maximum on the lung field
        flat = np.where(lw[..., None] > 0, a, -np.inf).reshape(n, h * w, c)
        arg = flat.argmax(axis=1)
        dA = np.zeros_like(flat)
        np.put_along_axis(dA, arg[:, None, :], gb[:, None, :], axis=1)
        dA = dA.reshape(a.shape)
    elif b["pool"] == "avg":
        dA = np.broadcast_to(gb[:, None, None, :] / (h * w), a.shape)   # d score / d A_k(i,j)
    elif b["pool"] == "max":
        flat = a.reshape(n, h * w, c)
        arg = flat.argmax(axis=1)                                          # first maximum
        dA = np.zeros_like(flat)
        np.put_along_axis(dA, arg[:, None, :], gb[:, None, :], axis=1)
        dA = dA.reshape(a.shape)
    else:
        dA = gb.reshape(a.shape)
    if b["pool"] in ("max", "lung-avg", "lung-max"):   # gradient x activation at every cell
        cam = np.maximum((dA * a).sum(-1), 0)
    else:
        alpha = dA.mean(axis=(1, 2))                                       # Grad-CAM weights
        cam = np.maximum(np.einsum("nhwc,nc->nhw", a, alpha), 0)
    cuts.append(cam)
    cc = cut_c[:, at:at + h * w].reshape(n, h, w)
    at += h * w
    worst = max(worst, np.abs(cam - cc).max() / max(1e-12, np.abs(cam).max()))
check("Grad-CAM at each cut", worst, 1e-4)

# 5. upsampling (scipy, half-pixel grid), normalisation, combination
heat = np.zeros((n, H, W))
nheat = np.zeros(n)
worst = 0
for bi, ((h, w, c), cam) in enumerate(zip(shapes, cuts)):
    up = np.stack([ndimage.zoom(cm, (H / h, W / w), order=1, grid_mode=True, mode="nearest") for cm in cam])
    tot = up.sum(axis=(1, 2), keepdims=True)
    up = np.where(tot > 0, up / np.where(tot > 0, tot, 1), 0)
    worst = max(worst, np.abs(up - bheat_c[:, bi]).max() / max(1e-12, up.max()))
    heat += up
    nheat += tot[:, 0, 0] > 0
heat /= np.maximum(nheat, 1)[:, None, None]
check("upsampled block maps (scipy.ndimage.zoom)", worst, 1e-3)
check("combined heat map", np.abs(heat - heat_c).max() / max(1e-12, heat.max()), 1e-3)

# 6. lung-field share, per image and median
if mask is not None:
    tot = heat.sum(axis=(1, 2))
    share = np.where(tot > 0, (heat * (mask > 0)).sum(axis=(1, 2)) / np.where(tot > 0, tot, 1), np.nan)
    js = np.array([np.nan if x["lung_share"] is None else x["lung_share"] for x in doc["samples"]])
    check("lung-field share per image", np.nanmax(np.abs(share - js)), 1e-4)
    check("median lung-field share", abs(np.nanmedian(share) - doc["lung_share"]["median"]), 1e-4)
