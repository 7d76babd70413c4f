"""Multi-label fashion image classification for the iMaterialist (Fashion) 2018 challenge with fastai

Modules:

- `fashion_clf.eda`: Label counts, labels per image, split comparisons and leakage checks, label co-occurrence by sparse algebra, image sizes and fetch outcomes from the manifest, pixel histograms, near-duplicates by content (perceptual hashes), the plots, and the `fashion-eda` HTML report."""

__version__ = "0.0.1"
