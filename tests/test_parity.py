"""Training and prediction see the same pixels.

A model is only as good at prediction time as the inputs are the ones it was validated on. Real image folders hold more
than the synthetic set's clean square JPEGs: large non-square photos, progressive JPEGs, PNGs with transparency, greyscale,
CMYK, photos taken sideways (EXIF orientation). For each kind, with JPEG draft decoding on and off, and with the training
images cached in memory or decoded from disk, the validation DataLoader of training (`data.get_dls`) and the loader of
`predict.Predictor` (built from the model's `model.json`) must give identical input tensors, hence the same probabilities.
"""
import numpy as np, pandas as pd, pytest, torch
from PIL import Image

from fashion_clf.data import Preprocess, get_dls
from fashion_clf.model import build_model, init_prior_bias, label_prior, save_model
from fashion_clf.predict import Predictor

VOCAB = ['1', '2', '3']


def _photo(w, h, seed):
    "A photo-like picture: smooth gradients and shapes, so that decoding and resizing differences show"
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(x * rng.uniform(0.1, 0.5) + y * rng.uniform(0.1, 0.5)) % 256,
                  (np.sin(x / rng.uniform(5, 30)) * 120 + 128), (y * 255 / h)], -1).astype(np.uint8)
    return Image.fromarray(a)


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('kinds')
    _photo(1200, 800, 0).save(d/'large.jpg', quality=92)                       # large, landscape
    _photo(533, 400, 1).save(d/'product.jpg', quality=90)                      # the competition's typical size
    _photo(300, 900, 2).save(d/'tall.jpg', quality=90)                         # very tall
    _photo(640, 480, 3).save(d/'progressive.jpg', quality=85, progressive=True)
    rgba = _photo(400, 300, 4).convert('RGBA'); a = np.array(rgba); a[:, :150, 3] = 0
    Image.fromarray(a).save(d/'alpha.png')                                      # half transparent
    _photo(500, 500, 5).convert('L').save(d/'grey.jpg')
    _photo(600, 400, 6).convert('CMYK').save(d/'cmyk.jpg', quality=90)
    side = _photo(400, 300, 7); ex = side.getexif(); ex[0x0112] = 6             # to be turned upright
    side.save(d/'sideways.jpg', exif=ex)
    _photo(256, 256, 8).save(d/'small.png')
    ids = [p.stem for p in sorted(d.iterdir())]
    return d, pd.DataFrame({'image_id': ids, 'labels': [[VOCAB[i % 3]] for i in range(len(ids))]})


@pytest.mark.parametrize('draft', [True, False])
@pytest.mark.parametrize('cache', [False, True])
def test_validation_loader_and_predictor_see_the_same_inputs(images, tmp_path, draft, cache):
    d, df = images
    pre = Preprocess(draft=draft)
    dls = get_dls(df, d, valid=df, vocab=VOCAB, size=96, preprocess=pre, bs=4, cache=cache, device='cpu', num_workers=0)
    x_valid = torch.cat([b[0] for b in dls.valid])                              # the validation set, in file order
    model = init_prior_bias(build_model('xresnet_tiny', len(VOCAB)), label_prior(df.labels, VOCAB)).eval()
    save_model(model, tmp_path/'run', 'xresnet_tiny', VOCAB, 96, dls.preprocess)
    pr = Predictor.from_run(tmp_path/'run', bs=4, num_workers=0, device='cpu')
    paths = dls.valid_ds.items.path.tolist()
    x_pred, ok = [torch.cat(o) for o in zip(*pr.dl(paths))]
    assert ok.all()
    assert torch.equal(x_pred, x_valid), (x_pred - x_valid).abs().amax((1, 2, 3))
    p, _ = pr.probs(paths)
    with torch.no_grad(): ref = torch.sigmoid(model(x_valid)).numpy()
    np.testing.assert_allclose(p, ref, atol=1e-5)


def test_the_spec_matters(images, tmp_path):
    "The comparison above can fail: other decoding or resizing settings give other inputs for the same files"
    d, df = images
    x = {}
    for name, pre in {'draft': Preprocess(), 'full': Preprocess(draft=False), 'bicubic': Preprocess(resample='bicubic'),
                      'pad': Preprocess(resize='pad'), 'no_exif': Preprocess(exif=False)}.items():
        dls = get_dls(df, d, valid=df, vocab=VOCAB, size=96, preprocess=pre, bs=9, device='cpu', num_workers=0)
        x[name] = dict(zip(dls.valid_ds.items.image_id, dls.valid.one_batch()[0]))
    assert not torch.equal(x['draft']['large'], x['full']['large'])           # 1200x800 at 96 px: decoded at 1/8
    assert torch.equal(x['draft']['small'], x['full']['small'])               # a PNG: no draft decoding
    assert not torch.equal(x['draft']['product'], x['bicubic']['product'])
    assert not torch.equal(x['draft']['tall'], x['pad']['tall'])
    assert not torch.equal(x['draft']['sideways'], x['no_exif']['sideways'])
    assert torch.equal(x['draft']['product'], x['no_exif']['product'])        # no orientation tag: the same


def test_transparency_and_colour_modes(images):
    "What a transparent pixel, a grey or a CMYK photo becomes: white behind transparency, three equal channels for grey"
    d, df = images
    pre = Preprocess()
    a = np.asarray(pre.open(d/'alpha.png', 96))
    assert (a[:, :20] == 255).all()                                            # the transparent left part is white
    g = np.asarray(pre.open(d/'grey.jpg', 96)).astype(int)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert np.asarray(pre.open(d/'cmyk.jpg', 96)).shape == (96, 96, 3)
