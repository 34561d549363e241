#!/usr/bin/env bash
# Regenerate docs/results.md from runs/reference (see scripts/train_reference.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
{
cat <<'MD'
# Reference trainings

Every configuration uses the calibration recipe: width 16, 10 epochs, Adam
(lr 1e-3, constant), batch 128, random horizontal flips, seed 0, the seed-0
split (50,000 / 5,000 / 5,000), best-validation checkpoint; test metrics per
SPEC §4 on the 5,000 test images. Classification rows state their decoding
rule (`mean`, `annealed:0.38`, `mode`).

    scripts/train_reference.sh          # resumable; trains, then runs colorize eval --json per run
    tools/results_table.py              # this table
    tools/plot_runs.py curves|bars      # the two plots (SVG, no plotting library needed)

Training times are the epochs' training time summed, on this 2-core machine
while other work (builds, tests, benchmarks) shared it at times; an undisturbed
unet/reg w16 epoch takes about 110 s (about 450 img/s).

Calibration: PyTorch with this recipe reaches 0.006055 on unet/reg (best
validation 0.005852 at epoch 8, 34 minutes); the target for colorize is
<= 0.0062. For scale: grey 0.007916, training-mean chroma 0.007557.

MD
tools/results_table.py runs/reference
cat <<'MD'

![validation chroma MSE per epoch](img/val_curves.svg)

![test chroma MSE per run](img/test_mse.svg)
MD
} > docs/results.md
tools/plot_runs.py curves runs/reference docs/img/val_curves.svg
tools/plot_runs.py bars runs/reference docs/img/test_mse.svg
cat >> docs/results.md <<'MD'

## Observations

- All four regression models beat the grey (0.007916) and mean-chroma
  (0.007557) predictors by 20-24 %; unet (skip connections) is best, vgg
  second, resnet third, the project's resunet last (`docs/resunet.md`).
- unet with the classification head and `mean` decoding is the best model so
  far (test 0.005951, below unet/reg's 0.005998); `annealed:0.38` trades MSE
  for colourfulness (0.006120, 14.7) and `mode` more so (0.006808, 17.8).
  vgg/cls, resnet/cls and resunet/cls are not trained yet.
- Regression washes colours out: predicted colourfulness is 14-16 against
  34 for the truth — the MSE-optimal answer under uncertainty is the mean.
- V (red-green axis) carries about two thirds of the error in every model.
- Hardest classes: automobile and airplane (large uniform regions whose
  colour the luma does not determine); easiest: horse and ship.
MD
