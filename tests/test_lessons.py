"""Each lesson runs headless from a clean kernel, and what it teaches is what it computes.

A lesson's prose marks each claim it makes about its own results with an id in an HTML
comment (``<!-- claim L3.2 -->``, invisible when rendered); the test of that claim names the
id in its docstring, and ``test_every_claim_in_a_lesson_has_a_test`` keeps the two in step,
so an edit that makes the text lie fails here.
"""
import re
from pathlib import Path

import pytest

from lesson_runner import run_lesson

LESSONS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(autouse=True)
def private_jupyter(tmp_path_factory, monkeypatch):
    for name in ("CONFIG", "DATA", "RUNTIME"):
        monkeypatch.setenv(f"JUPYTER_{name}_DIR", str(tmp_path_factory.mktemp(name.lower())))


def _check_clean_run_and_labelled_figures(lesson, minimum_figures):
    assert lesson.errors() == []
    assert len(lesson.figures) >= minimum_figures
    for figure in lesson.figures:
        for ax in figure:
            if ax["colorbar"]:
                assert ax["xlabel"] or ax["ylabel"], "a colorbar without a label"
            else:
                assert ax["xlabel"] and ax["ylabel"], f"unlabelled axes: {ax}"


@pytest.fixture(scope="module")
def train_vs_eval():
    return run_lesson(LESSONS / "01_train_vs_eval.ipynb", {
        "zero_share": "zero_share", "mean_after": "mean_after",
        "after_eval": "list(after_eval.values())", "after_train": "list(after_train.values())",
        "nograd_outputs_differ": "nograd_outputs_differ", "eval_tracks_gradients": "eval_tracks_gradients",
        "with_train": "trace.iloc[:, 0].tolist()", "forgot_train": "trace.iloc[:, 1].tolist()",
        "train_mode_std": "train_mode_std", "eval_identical": "bool((eval_mode == eval_mode[0]).all())",
        "errors": "errors", "same_mask_with_seed": "same_mask_with_seed",
        "shares": "dict(zip(rates, shares))",
        "distinct": "distinct_predictions", "active": "active_units", "ensemble_gap": "ensemble_gap",
        "train_values": "sorted(set(output_train.tolist()))", "eval_values": "output_eval.tolist()",
        "accuracy_eval": "accuracy_eval", "accuracy_train_mode": "accuracy_train_mode",
        "zeros_after_eval": "zeros_after_eval",
    })


def test_lesson1_runs_and_its_plots_are_labelled(train_vs_eval):
    _check_clean_run_and_labelled_figures(train_vs_eval, 2)


def test_lesson1_dropout_zeroes_p_and_keeps_the_mean(train_vs_eval):
    """claim L1.4: on four ones, training mode gives only 0s and 2s, eval mode the ones back."""
    v = train_vs_eval.values
    assert set(v["train_values"]) <= {0.0, 2.0} and v["eval_values"] == [1.0] * 4
    assert abs(v["zero_share"] - 0.5) < 0.01 and abs(v["mean_after"] - 1) < 0.02
    assert all(abs(share - float(p)) < 0.01 for p, share in v["shares"].items())


def test_lesson1_modes_reach_every_submodule_and_no_grad_is_not_eval(train_vs_eval):
    v = train_vs_eval.values
    assert not any(v["after_eval"]) and all(v["after_train"])
    assert v["nograd_outputs_differ"] and v["eval_tracks_gradients"]


def test_lesson1_pitfalls_show_what_they_claim(train_vs_eval):
    """claim L1.1: the three silent pitfalls run without an error; the argument mistakes raise."""
    v = train_vs_eval.values
    assert all(abs(share - 0.5) < 0.05 for share in v["with_train"])
    assert v["forgot_train"][0] > 0.4 and v["forgot_train"][1:] == [0, 0, 0, 0]
    assert v["train_mode_std"] > 0.005 and v["eval_identical"]
    assert v["errors"]["nn.Dropout(0.3)"] == "ok" and v["errors"]["nn.Dropout(30)"] == "ValueError"
    assert v["errors"]["nn.Dropout(rate=0.3)"] == "TypeError"
    assert v["same_mask_with_seed"]


def test_lesson1_forgetting_eval_costs_a_trained_network_accuracy(train_vs_eval):
    """claim L1.5: every one of fifty training-mode scores of the trained digit classifier is below
    its eval-mode score, by at least two points on average."""
    v = train_vs_eval.values
    scores = v["accuracy_train_mode"]
    assert len(scores) == 50 and v["accuracy_eval"] > 0.9
    assert max(scores) < v["accuracy_eval"] and sum(scores) / 50 < v["accuracy_eval"] - 0.02


def test_lesson1_functional_dropout_without_the_flag_drops_in_eval_mode(train_vs_eval):
    """claim L1.6: after .eval() the module that calls F.dropout(x, p) zeroes about p of its input,
    the one that passes training=self.training none."""
    shares = train_vs_eval.values["zeros_after_eval"]
    assert abs(shares["ForgetfulDropout"] - 0.3) < 0.01 and shares["CarefulDropout"] == 0


@pytest.fixture(scope="module")
def pipeline_trace():
    return run_lesson(LESSONS / "02_pipeline_trace.ipynb", {
        "zero_train": "dropout_zero_share_train", "zero_eval": "dropout_zero_share_eval",
        "shapes": "train_trace['shape'].tolist()",
        "first_loss": "history['train loss'].iloc[0]", "last_loss": "history['train loss'].iloc[-1]",
        "last_val_acc": "history['val accuracy'].iloc[-1]", "epochs": "len(history)",
        "deterministic": "eval_is_deterministic",
        "sample0_dropout": "train_trace.loc['2 Dropout(0.3)', 'sample 0, first 8 values']",
        "gaps": "(history['train accuracy'] - history['val accuracy']).tolist()",
        "effects": "effects.to_dict(orient='list')",
        "shown": "[shown(v) for v in (0.0, -0.0, 0.004, -0.001, 0.5, -1.234)]",
        "cells": "{mode: t['sample 0, first 8 values'].tolist() for mode, t in "
                 "(('train', train_trace), ('eval', eval_trace), ('prediction', prediction_trace))}",
        "loss_gap": "history['val loss'].iloc[-1] - history['train loss'].iloc[-1]",
        "zero_shares": "{mode: t['share of zeros'].tolist() for mode, t in "
                       "(('train', train_trace), ('eval', eval_trace))}",
    })


def test_lesson1_few_masks_matter_and_their_average_is_the_eval_prediction(train_vs_eval):
    """claim L1.2: few distinct predictions, at most 2**(active units); claim L1.3: the mean of
    the train-mode predictions is within 0.01 of the eval-mode one."""
    v = train_vs_eval.values
    assert 1 < v["distinct"] <= 2 ** v["active"] and v["active"] < 10
    assert v["ensemble_gap"] < 0.01


def test_lesson2_runs_and_its_plots_are_labelled(pipeline_trace):
    _check_clean_run_and_labelled_figures(pipeline_trace, 1)


def test_lesson2_traces_the_five_stages_with_their_shapes(pipeline_trace):
    """claim L2.4: the Linear stages give no exact zeros; claim L2.5: ReLU zeroes roughly half."""
    v = pipeline_trace.values
    for shares in v["zero_shares"].values():  # stages: input, dropout, linear, relu, linear
        assert shares[2] == 0 and shares[4] == 0 and 0.4 < shares[3] < 0.6
    assert v["shapes"] == [[1000, 20], [1000, 20], [1000, 10], [1000, 10], [1000, 3]]
    assert abs(v["zero_train"] - 0.3) < 0.015 and v["zero_eval"] == 0


def test_lesson2_the_table_shows_dropped_values_and_validation_keeps_pace(pipeline_trace):
    """claim L2.1: sample 0's first eight values after dropout include dropped ones (two);
    claim L2.2: validation accuracy within a few points of training in every epoch, slightly
    higher at the end, and the eval-mode losses end close together."""
    v = pipeline_trace.values
    assert sum(value in ("0", "-0") for value in v["sample0_dropout"].split()) == 2
    assert max(abs(gap) for gap in v["gaps"]) < 0.05 and v["gaps"][-1] < 0
    assert abs(v["loss_gap"]) < 0.05


def test_lesson2_the_trace_table_shows_only_exact_zeros_as_zero_and_every_value(pipeline_trace):
    """A rounded 0.00 under the sentence that explains -0 would teach the wrong thing, and a cell cut
    to "..." hides values: zeros are exact, small values keep their size, no cell is cut."""
    v = pipeline_trace.values
    assert v["shown"] == ["0", "-0", "4e-03", "-1e-03", "0.50", "-1.23"]
    for rows in v["cells"].values():
        for cell in rows:
            values = cell.split()
            assert len(values) in (8, 3) and not any(re.fullmatch(r"-?0\.0+", x) for x in values), cell
    shown = [o for c in pipeline_trace.notebook.cells if "train_trace = trace(X)" in c.source for o in c.outputs]
    html = "".join(o.get("data", {}).get("text/html", "") for o in shown).replace("&nbsp;", " ")
    assert html and "..." not in html and v["cells"]["train"][1] in html


def test_lesson2_separates_the_averaging_from_the_dropout_in_the_training_loss(pipeline_trace):
    """claim L2.3: in epoch 1 the epoch average exceeds the end-of-epoch dropout-on loss by more
    than dropout raises it over eval mode; in the last epoch the other way round; dropout-on
    above eval mode in every epoch."""
    effects = pipeline_trace.values["effects"]
    averaging = effects["averaging (average - dropout on)"]
    dropout = effects["dropout (dropout on - eval mode)"]
    assert len(dropout) == 20 and min(dropout) > 0
    assert averaging[0] > dropout[0] and dropout[-1] > averaging[-1]


def test_lesson2_training_trace_learns_and_eval_is_deterministic(pipeline_trace):
    v = pipeline_trace.values
    assert v["epochs"] == 20 and v["last_loss"] < v["first_loss"] / 2
    assert v["last_val_acc"] > 0.8
    assert v["deterministic"]


@pytest.fixture(scope="module")
def overfitting():
    return run_lesson(LESSONS / "03_overfitting_gaps.ipynb", {
        "per_run": "per_run.to_dict(orient='records')", "best_p": "best_p",
        "wrong_share": "wrong_share", "val_labels_clean": "bool((y_val == y[300:]).all())",
        "verdict": "diagnose(0.98, 0.60)", "verdicts": "verdicts", "worked": "worked_example",
        "reversed": "diagnose(0.829, 0.946)", "close": "[diagnose(0.9, 0.9 + d) for d in (-0.1, -0.05, 0, 0.05, 0.1)]",
        "ours": "ours", "library": "library",
        "matrix": "library_matrix.tolist()", "counts": "[tp, fn, fp, tn]",
        "matrices": "matrices", "differing": "differing", "validation": "len(val_idx)",
        "honest": "honest_val_acc", "leaky": "leaky_val_acc",
        "plateau": "[min(runs[(0.95, s)]['val accuracy'].iloc[60:120]) for s in SEEDS]",
        "late_gain": "[runs[(0.95, s)]['train accuracy'].iloc[-20:].mean() - runs[(0.95, s)]['train accuracy'].iloc[-60:-40].mean() for s in SEEDS]",
    })


def _by_seed(overfitting):
    """{seed: {p: that run's row}}: the claims must hold in every seed, not on average."""
    rows = {}
    for row in overfitting.values["per_run"]:
        rows.setdefault(row["seed"], {})[row["p"]] = row
    assert len(rows) >= 3
    return rows


def test_lesson3_runs_and_its_plots_are_labelled(overfitting):
    _check_clean_run_and_labelled_figures(overfitting, 3)


def test_lesson3_exactly_a_fifth_of_the_training_labels_are_wrong(overfitting):
    """claim L3.1"""
    assert overfitting.values["wrong_share"] == pytest.approx(0.2)
    assert overfitting.values["val_labels_clean"]


def test_lesson3_without_dropout_the_net_memorises_and_early_stopping_was_far_better(overfitting):
    """claim L3.2: in every seed: 100% training accuracy, final validation accuracy near 81%
    (within 0.75-0.87), validation loss over 100 times the training loss (the table's ratio),
    and early stopping, choosing on one half of the validation set, picks an epoch in the
    first 30 that scores above 93% on the other half."""
    for runs in _by_seed(overfitting).values():
        none = runs[0.0]
        assert none["train accuracy"] == 1.0 and 0.75 < none["val accuracy"] < 0.87
        assert none["val loss"] > 100 * none["train loss"]
        assert none["val loss / train loss"] == pytest.approx(none["val loss"] / none["train loss"])
        assert none["early stopping accuracy"] > 0.93 and none["early stopping epoch"] <= 30


def test_lesson3_dropout_raises_validation_accuracy_up_to_p_08_and_shrinks_the_gap(overfitting):
    """claim L3.3 (monotone from 0 to 0.8, in every seed) and claim L3.4 (p = 0.8 trains to
    about the share of right labels, 0.8 +- 0.05, with a negative gap; p = 0.5 still learns
    some wrong labels: above 90% training accuracy)."""
    for runs in _by_seed(overfitting).values():
        accuracies = [runs[p]["val accuracy"] for p in (0.0, 0.2, 0.5, 0.8)]
        gaps = [runs[p]["accuracy gap"] for p in (0.0, 0.2, 0.5, 0.8)]
        assert accuracies == sorted(accuracies) and gaps == sorted(gaps, reverse=True)
        assert abs(runs[0.8]["train accuracy"] - 0.8) < 0.05 and runs[0.8]["accuracy gap"] < 0
        assert runs[0.5]["train accuracy"] > 0.9
    assert overfitting.values["best_p"] == 0.8
    assert overfitting.values["verdict"].startswith("overfitting")
    verdicts = {float(p): v for p, v in overfitting.values["verdicts"].items()}
    assert verdicts[0.0].startswith("overfitting") and verdicts[0.95].startswith("underfitting")


def test_lesson3_diagnose_calls_no_large_gap_good_in_either_direction(overfitting):
    """claim L3.7: at p = 0.8 validation ends more than ten points above training (every seed),
    and diagnose says so instead of "good"; gaps up to ten points either way are good."""
    v = overfitting.values
    for runs in _by_seed(overfitting).values():
        assert runs[0.8]["val accuracy"] - runs[0.8]["train accuracy"] > 0.10
    verdicts = {float(p): verdict for p, verdict in v["verdicts"].items()}
    assert verdicts[0.8].startswith("validation above training") and v["reversed"] == verdicts[0.8]
    assert all(verdict.startswith("good") for verdict in v["close"])


def test_lesson3_too_much_dropout_underfits_near_a_guess_and_plateaus_at_one_class(overfitting):
    """claim L3.5: at p = 0.95, training and validation accuracy below 60% and the loss near
    ln 3 in every seed; a stretch at about one third (one class for every sample); still
    learning at the end (training accuracy higher in the last 20 epochs than 40 before).
    And the loss plot's title: validation loss lowest at moderate p (0.5 or 0.8)."""
    import math
    for runs in _by_seed(overfitting).values():
        assert runs[0.95]["train accuracy"] < 0.6 and runs[0.95]["val accuracy"] < 0.6
        assert abs(runs[0.95]["val loss"] - math.log(3)) < 0.1
        losses = {p: row["val loss"] for p, row in runs.items()}
        assert min(losses, key=losses.get) in (0.5, 0.8)
    assert all(abs(low - 1 / 3) < 0.05 for low in overfitting.values["plateau"])
    assert sum(gain > 0 for gain in overfitting.values["late_gain"]) >= 2


def test_lesson3_metrics_match_the_worked_example_and_the_library(overfitting):
    v = overfitting.values
    assert v["worked"] == pytest.approx({"precision": 85 / 95, "recall": 0.85, "accuracy": 0.875})
    assert v["ours"] == pytest.approx(v["library"], abs=1e-12)
    assert v["matrix"] == [v["counts"][:2], v["counts"][2:]]


def test_lesson3_dropout_barely_changes_the_confusion_matrix_on_clean_data(overfitting):
    """claim L3.6: 2 of the 169 validation biopsies move between cells."""
    v = overfitting.values
    assert v["differing"] == 2 and v["validation"] == 169
    assert v["matrices"]["with Dropout(0.3)"] == [v["counts"][:2], v["counts"][2:]]


def test_lesson3_leakage_inflates_validation_accuracy(overfitting):
    assert overfitting.values["leaky"] > overfitting.values["honest"] + 0.1


@pytest.fixture(scope="module")
def mc_dropout():
    return run_lesson(LESSONS / "04_mc_dropout.ipynb", {
        "eval_accuracy": "eval_accuracy", "mc_accuracy": "mc_accuracy",
        "median_right": "median_right", "median_wrong": "median_wrong", "kept_accuracy": "kept_accuracy",
        "eval_ece": "eval_ece", "mc_ece": "mc_ece", "mc_confidence": "mc_confidence",
        "wrong": "int((~right).sum())", "confident_share": "confident_share",
        "baselines": "baselines.to_dict(orient='index')",
        "shortcut": "[moved, left_training, batch_dependence, one_digit_shortcut]",
        "safe": "[state_unchanged, modes_restored, one_digit_safe, bool(safe_mc.std(dim=0).max() > 0)]",
        "probe": "_probe",
    }, after=MC_PROBE)


#: The test's own network for Lesson 4's mc_predict: batch norm at two depths, modes mixed, and a
#: layer that raises on the third pass.
MC_PROBE = """
import copy as _copy
_net = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                     nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16), nn.Dropout1d(0.2)), nn.Linear(16, 10))
_net.train()
with torch.no_grad():
    _net(torch.randn(32, 64))                          # batch norm gets statistics of its own
_net.eval()
_net[4].train()                                        # a mix of modes to restore
_net[3].train()
_modes = {name: m.training for name, m in _net.named_modules()}
_state = _copy.deepcopy(_net.state_dict())
_out = mc_predict(_net, torch.randn(5, 64), passes=20)
_probe = {"state": all(torch.equal(v, _state[k]) for k, v in _net.state_dict().items()),
          "modes": {name: m.training for name, m in _net.named_modules()} == _modes,
          "varies": bool(_out.std(dim=0).max() > 0), "shape": list(_out.shape),
          "one": list(mc_predict(_net, torch.randn(1, 64), passes=3).shape)}

class _Boom(nn.Module):
    calls = 0
    def forward(self, x):
        _Boom.calls += 1
        if _Boom.calls == 3:
            raise RuntimeError("boom")
        return x

_failing = nn.Sequential(nn.Linear(64, 10), nn.BatchNorm1d(10), nn.Dropout(0.5), _Boom())
_failing.train()
try:
    mc_predict(_failing, torch.randn(4, 64), passes=5)
except RuntimeError:
    pass
_probe["restored after an error"] = all(m.training for m in _failing.modules())
"""


def test_lesson4_runs_and_its_plots_are_labelled(mc_dropout):
    _check_clean_run_and_labelled_figures(mc_dropout, 2)


def test_lesson4_the_mc_mean_is_as_accurate_and_its_spread_flags_the_mistakes(mc_dropout):
    """claim L4.1: MC and eval accuracy within 2 points; claim L4.2: the median spread of a wrong
    prediction is at least twice that of a right one; claim L4.3: referring the least certain
    tenth removes most of the mistakes (the error rate of the rest under half the overall one)."""
    v = mc_dropout.values
    assert abs(v["mc_accuracy"] - v["eval_accuracy"]) < 0.02 and v["wrong"] >= 5
    assert v["median_wrong"] >= 2 * v["median_right"]
    assert 1 - v["kept_accuracy"] < 0.5 * (1 - v["mc_accuracy"])


def test_lesson4_the_free_baseline_flags_mistakes_nearly_as_well_as_the_spread(mc_dropout):
    """claim L4.5: every score's AUROC above 0.85; the eval pass's top probability within 0.03 of
    the spread's AUROC, the entropy of the MC mean at most 0.06 above it; referring the least
    sure tenth by any of the three leaves accuracies within a point of each other."""
    rows = mc_dropout.values["baselines"]
    auroc = {name: row["AUROC for flagging mistakes"] for name, row in rows.items()}
    free, spread = auroc["one eval pass: 1 - top probability"], auroc["MC: spread of the predicted class"]
    assert min(auroc.values()) > 0.85 and abs(free - spread) < 0.03
    assert auroc["MC: entropy of the mean"] - free < 0.06
    kept = [row["accuracy on the surest 90%"] for row in rows.values()]
    assert max(kept) - min(kept) < 0.01
    assert [row["passes"] for row in rows.values()] == [1, 100, 100]


def test_lesson4_model_train_breaks_batch_norm_and_mc_predict_does_not(mc_dropout):
    """claim L4.6: the shortcut moves batch norm's running mean, leaves the model in training mode,
    makes the same digits' logits depend on their batch and cannot predict one digit; mc_predict
    changes no entry of the state dict, restores every mode and predicts one digit."""
    moved, left_training, batch_dependence, one_digit = mc_dropout.values["shortcut"]
    assert moved > 0.01 and left_training and batch_dependence > 0.1 and one_digit == "raises ValueError"
    assert mc_dropout.values["safe"] == [True, True, [100, 1, 10], True]


def test_lesson4_mc_predict_leaves_every_batch_norm_statistic_and_mode_as_it_found_them(mc_dropout):
    """The test's own network: batch norm at two depths, submodules in mixed modes, a layer that
    raises mid-way; the lesson's mc_predict changes no state and restores every mode."""
    probe = mc_dropout.values["probe"]
    assert probe == {"state": True, "modes": True, "varies": True, "shape": [20, 5, 10], "one": [3, 1, 10],
                     "restored after an error": True}


def test_lesson4_the_eval_pass_is_better_calibrated_and_the_mc_mean_underconfident(mc_dropout):
    """claim L4.4: most eval predictions above 0.9 confidence; the eval pass's ECE is the smaller;
    the MC prediction's mean confidence is below its accuracy."""
    v = mc_dropout.values
    assert v["confident_share"] > 0.5
    assert v["eval_ece"] < v["mc_ece"] < 0.1
    assert v["mc_confidence"] < v["mc_accuracy"]


@pytest.fixture(scope="module")
def modern_networks():
    return run_lesson(LESSONS / "05_dropout_in_modern_networks.ipynb", {
        "channels": "channel_rows", "unbatched": "[rows_whole, maps_whole, unbatched_warning]",
        "recovered": "recovered", "cnn_runs": "cnn_runs.to_dict(orient='records')",
        "selu": "last_layer", "alpha": "alpha_check", "attention": "attention_rows",
        "drop_path": "drop_path_check", "variances": "variances.to_dict(orient='records')",
        "shift": "shift_rows", "placement": "placement_rows", "width_loss": "width_loss",
        "decay": "decay_rows", "probe": "_probe",
    }, after=MODERN_PROBE)


#: The test's own experiments on what Lesson 5 defined: drop_path on a conv-shaped batch (mask per
#: sample, gradient 0 or 1/(1-p), identity for p = 0 and in eval mode), and the attention blocks in
#: eval mode against the same block with p = 0.
MODERN_PROBE = """
_x = torch.randn(64, 3, 5, 5, requires_grad=True)
torch.manual_seed(1)
_y = drop_path(_x, 0.5, training=True)
_y.sum().backward()
_flat, _dropped = _y.detach().flatten(1), (_y.detach().flatten(1) == 0).all(dim=1)
_probe = {"all-or-nothing": bool((_dropped | torch.isclose(_flat, 2 * _x.detach().flatten(1)).all(dim=1)).all()),
          "dropped": int(_dropped.sum()), "gradients": sorted(set(_x.grad.unique().tolist())),
          "p = 0": drop_path(_x, 0.0, training=True) is _x, "eval": drop_path(_x, 0.5, training=False) is _x}
with torch.no_grad():
    for _kind in (CarefulAttention, ForgetfulAttention):
        _block = _kind(p=0.5).eval()
        _with = _block(tokens)
        _block.p = 0.0
        _probe[_kind.__name__ + " eval equals p = 0"] = torch.equal(_with, _block(tokens))
"""


def test_lesson5_runs_and_its_plots_are_labelled(modern_networks):
    _check_clean_run_and_labelled_figures(modern_networks, 3)


def test_lesson5_channel_dropout_drops_whole_channels_at_rate_p(modern_networks):
    """claim L5.1: Dropout1d, 2d and 3d zero every channel entirely or keep it entirely (scaled by
    1/(1-p)), and close to 30% of the channels are dropped at p = 0.3."""
    rows = modern_networks.values["channels"]
    assert set(rows) == {"nn.Dropout1d", "nn.Dropout2d", "nn.Dropout3d"}
    for row in rows.values():
        assert row["every channel all-or-nothing"] and abs(row["share of channels dropped"] - 0.3) < 0.03
    assert [rows[name]["values per channel"] for name in sorted(rows)] == [20, 64, 256]


def test_lesson5_an_unbatched_image_makes_dropout2d_drop_rows_with_only_a_warning(modern_networks):
    """claim L5.2: a (C, H, W) tensor makes Dropout2d warn and drop whole rows, not whole maps."""
    rows_whole, maps_whole, warning = modern_networks.values["unbatched"]
    assert rows_whole and not maps_whole and "3D input" in warning


def test_lesson5_neighbours_rebuild_an_element_dropped_value_but_not_a_channel_dropped_one(modern_networks):
    """claim L5.3: behind nn.Dropout the eight neighbours explain about a third of a dropped pixel's
    variance around its position's average and about half in the second convolution's feature maps,
    clearly more than in the pixels; behind Dropout2d nothing."""
    recovered = modern_networks.values["recovered"]
    pixels, maps = recovered["pixels"], recovered["second layer's feature maps"]
    assert 0.25 < pixels["nn.Dropout(0.2)"] < 0.42
    assert 0.4 < maps["nn.Dropout(0.2)"] < 0.65 and maps["nn.Dropout(0.2)"] > pixels["nn.Dropout(0.2)"] + 0.1
    assert abs(pixels["nn.Dropout2d(0.2)"]) < 1e-6 and abs(maps["nn.Dropout2d(0.2)"]) < 1e-6


def test_lesson5_neither_dropout_raised_the_small_cnns_validation_accuracy(modern_networks):
    """claim L5.4: averaged over three seeds neither Dropout nor Dropout2d raises validation accuracy
    by half a point, and in no seed by two points."""
    runs = modern_networks.values["cnn_runs"]
    val = {(row["dropout"], row["seed"]): row["val accuracy"] for row in runs}
    seeds = sorted({seed for _, seed in val})
    assert len(seeds) == 3 and len(runs) == 9
    for name in ("nn.Dropout(0.3)", "nn.Dropout2d(0.3)"):
        gains = [val[name, seed] - val["no dropout", seed] for seed in seeds]
        assert sum(gains) / 3 < 0.005 and max(gains) < 0.02, (name, gains)


def test_lesson5_alpha_dropout_keeps_a_selu_stack_self_normalising_and_dropout_does_not(modern_networks):
    """claim L5.5: after 32 Linear + SELU layers, no dropout and AlphaDropout keep mean and std within
    a few hundredths of 0 and 1; Dropout(0.2) raises the std to about 1.5 and the mean above 0.1."""
    last = modern_networks.values["selu"]
    for name in ("no dropout", "nn.AlphaDropout(0.2)"):
        assert abs(last[name]["mean"]) < 0.05 and abs(last[name]["std"] - 1) < 0.05, name
    assert 1.35 < last["nn.Dropout(0.2)"]["std"] < 1.65 and last["nn.Dropout(0.2)"]["mean"] > 0.1


def test_lesson5_alpha_dropout_gives_only_the_two_forms_of_torchs_formula(modern_networks):
    """claim L5.6: every F.alpha_dropout output is a·x + α'·a·p or -α'·a·(1-p), about a fifth the
    constant, with mean 0 and std 1; FeatureAlphaDropout does it to whole channels."""
    alpha = modern_networks.values["alpha"]
    assert alpha["SELU of a very negative input"] == pytest.approx(-1.7580993, abs=1e-5)
    assert alpha["share of outputs in one of the two forms"] == 1.0
    assert abs(alpha["share dropped"] - 0.2) < 0.01
    assert abs(alpha["output mean"]) < 0.01 and abs(alpha["output std"] - 1) < 0.01
    assert alpha["FeatureAlphaDropout: every channel all-or-nothing"]
    assert abs(alpha["FeatureAlphaDropout: share of channels dropped"] - 0.2) < 0.05


def test_lesson5_functional_attention_keeps_dropping_after_eval(modern_networks):
    """claim L5.7: in training mode all three blocks vary; after eval() the forgetful block still
    varies, the careful one and nn.MultiheadAttention give identical outputs."""
    rows = modern_networks.values["attention"]
    assert all(row["train mode: two calls differ by"] > 1e-3 for row in rows.values())
    assert rows["ForgetfulAttention"]["eval mode: two calls differ by"] > 1e-3
    assert rows["CarefulAttention"]["eval mode: two calls differ by"] == 0
    assert rows["nn.MultiheadAttention(dropout=0.1)"]["eval mode: two calls differ by"] == 0
    probe = modern_networks.values["probe"]
    assert probe["CarefulAttention eval equals p = 0"] and not probe["ForgetfulAttention eval equals p = 0"]


def test_lesson5_drop_path_is_per_sample_all_or_nothing_and_keeps_the_expected_output(modern_networks):
    """claim L5.8: each sample's branch entirely dropped or kept, close to a quarter dropped at
    p = 0.25, the mean of 20,000 training-mode passes within a hundredth of the eval output (which
    reaches about 3), and eval mode returns the input itself."""
    check = modern_networks.values["drop_path"]
    assert check["every sample all-or-nothing"] and abs(check["share of samples dropped"] - 0.25) < 0.02
    assert check["eval mode returns its input"]
    assert check["train-mode mean vs eval output, largest difference"] < 0.01
    assert 2 < check["size of the eval output, largest value"] < 4


def test_lesson5_drop_path_on_the_tests_own_batch(modern_networks):
    """The test's own batch of images: one mask per sample, gradients 0 or 1/(1-p), identity at p = 0."""
    probe = modern_networks.values["probe"]
    assert probe["all-or-nothing"] and 16 < probe["dropped"] < 48
    assert probe["gradients"] == [0.0, 2.0] and probe["p = 0"] and probe["eval"]


def test_lesson5_dropout_adds_variance_p_over_one_minus_p_times_x_squared(modern_networks):
    """claim L5.9: measured variance within two percent of p/(1-p)·x² in every row."""
    rows = modern_networks.values["variances"]
    assert len(rows) == 9
    assert all(abs(row["measured / formula"] - 1) < 0.02 for row in rows), rows


def test_lesson5_dropout_before_batch_norm_shifts_its_variance(modern_networks):
    """claim L5.10: with Dropout(0.5) before batch norm the running variance is about 2.5 times the
    variance seen in eval mode and the eval outputs' std near 0.63; after batch norm within a percent."""
    before, after = (modern_networks.values["shift"][f"Dropout(0.5) {where} BatchNorm"] for where in ("before", "after"))
    assert 2.2 < before["running variance / variance seen in eval"] < 2.8
    assert 0.58 < before["std of batch norm's outputs in eval"] < 0.68
    assert abs(after["running variance / variance seen in eval"] - 1) < 0.01
    assert abs(after["std of batch norm's outputs in eval"] - 1) < 0.01


def test_lesson5_dropout_on_the_input_costs_more_than_on_the_hidden_layer(modern_networks):
    """claim L5.11: at p = 0.8 input dropout gives lower training (eval mode) and validation accuracy
    than hidden dropout."""
    rows = modern_networks.values["placement"]
    on_input, on_hidden = rows["p = 0.8 on the input"], rows["p = 0.8 on the hidden layer"]
    assert on_input["train accuracy"] < on_hidden["train accuracy"] - 0.02
    assert on_input["val accuracy"] < on_hidden["val accuracy"] - 0.01


def test_lesson5_a_wide_layer_tolerates_a_larger_p(modern_networks):
    """claim L5.12: from p = 0 to p = 0.8 the 256-unit layer loses under a point of validation
    accuracy, the 16-unit layer several points."""
    loss = modern_networks.values["width_loss"]
    assert loss["256"] < 0.01 and loss["16"] > 0.025


def test_lesson5_weight_decay_shrinks_the_weights_and_neither_regulariser_moves_validation(modern_networks):
    """claim L5.13: weight decay shrinks the weights' norm by more than a fifth with or without dropout,
    dropout alone barely changes it; every network fits its 200 digits; validation accuracies within
    two points of each other."""
    rows = modern_networks.values["decay"]
    norm = {name: row["norm of all weights"] for name, row in rows.items()}
    for p in (0.0, 0.5):
        assert norm[f"weight decay 1.0, dropout {p}"] < 0.8 * norm[f"weight decay 0.0, dropout {p}"]
    assert norm["weight decay 0.0, dropout 0.5"] > 0.95 * norm["weight decay 0.0, dropout 0.0"]
    assert all(row["train accuracy"] == 1.0 for row in rows.values())
    val = [row["val accuracy"] for row in rows.values()]
    assert len(val) == 4 and max(val) - min(val) < 0.02


@pytest.mark.parametrize("name", ["train_vs_eval", "pipeline_trace", "overfitting", "mc_dropout",
                                  "modern_networks"])
def test_every_lesson_ends_with_predict_then_run_exercises_that_wait_for_a_guess(name, request):
    lesson = request.getfixturevalue(name)
    cells = [c for c in lesson.notebook.cells if c.cell_type == "code" and "reveal(prediction" in c.source]
    assert len(cells) >= 3
    assert cells[-1] is [c for c in lesson.notebook.cells if c.cell_type == "code"][-1]
    for cell in cells:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "Write your prediction first" in text, cell.source


def test_every_claim_in_a_lesson_has_a_test():
    """Every ``claim Lx.y`` marked in a lesson is named by a test's docstring here, and back."""
    import nbformat
    marked = set()
    for path in sorted(LESSONS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            marked |= set(re.findall(r"claim (L\d\.\d+)", cell.source))
    tested = set(re.findall(r"claim (L\d\.\d+)", Path(__file__).read_text().split("def test_every_claim")[0]))
    assert marked and marked == tested, {"untested": marked - tested, "not in a lesson": tested - marked}
