"""Each lesson runs headless from a clean kernel, and what it teaches is what it computes."""
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
    })


def test_lesson1_runs_and_its_plots_are_labelled(train_vs_eval):
    _check_clean_run_and_labelled_figures(train_vs_eval, 2)


def test_lesson1_dropout_zeroes_p_and_keeps_the_mean(train_vs_eval):
    v = train_vs_eval.values
    assert abs(v["zero_share"] - 0.5) < 0.01 and abs(v["mean_after"] - 1) < 0.02
    assert all(abs(share - float(p)) < 0.01 for p, share in v["shares"].items())


def test_lesson1_modes_reach_every_submodule_and_no_grad_is_not_eval(train_vs_eval):
    v = train_vs_eval.values
    assert not any(v["after_eval"]) and all(v["after_train"])
    assert v["nograd_outputs_differ"] and v["eval_tracks_gradients"]


def test_lesson1_pitfalls_show_what_they_claim(train_vs_eval):
    v = train_vs_eval.values
    assert all(abs(share - 0.5) < 0.05 for share in v["with_train"])
    assert v["forgot_train"][0] > 0.4 and v["forgot_train"][1:] == [0, 0, 0, 0]
    assert v["train_mode_std"] > 0.005 and v["eval_identical"]
    assert v["errors"]["nn.Dropout(0.3)"] == "ok" and v["errors"]["nn.Dropout(30)"] == "ValueError"
    assert v["errors"]["nn.Dropout(rate=0.3)"] == "TypeError"
    assert v["same_mask_with_seed"]


@pytest.fixture(scope="module")
def pipeline_trace():
    return run_lesson(LESSONS / "02_pipeline_trace.ipynb", {
        "zero_train": "dropout_zero_share_train", "zero_eval": "dropout_zero_share_eval",
        "shapes": "train_trace['shape'].tolist()",
        "first_loss": "history['train loss'].iloc[0]", "last_loss": "history['train loss'].iloc[-1]",
        "last_val_acc": "history['val accuracy'].iloc[-1]", "epochs": "len(history)",
        "deterministic": "eval_is_deterministic",
    })


def test_lesson2_runs_and_its_plots_are_labelled(pipeline_trace):
    _check_clean_run_and_labelled_figures(pipeline_trace, 1)


def test_lesson2_traces_the_five_stages_with_their_shapes(pipeline_trace):
    v = pipeline_trace.values
    assert v["shapes"] == [[1000, 20], [1000, 20], [1000, 10], [1000, 10], [1000, 3]]
    assert abs(v["zero_train"] - 0.3) < 0.015 and v["zero_eval"] == 0


def test_lesson2_training_trace_learns_and_eval_is_deterministic(pipeline_trace):
    v = pipeline_trace.values
    assert v["epochs"] == 20 and v["last_loss"] < v["first_loss"] / 2
    assert v["last_val_acc"] > 0.8
    assert v["deterministic"]


@pytest.fixture(scope="module")
def overfitting():
    return run_lesson(LESSONS / "03_overfitting_gaps.ipynb", {
        "final": "final.to_dict(orient='index')", "best_p": "best_p",
        "verdict": "diagnose(0.98, 0.60)", "worked": "worked_example",
        "ours": "ours", "library": "library",
        "matrix": "library_matrix.tolist()", "counts": "[tp, fn, fp, tn]",
        "honest": "honest_val_acc", "leaky": "leaky_val_acc",
    })


def test_lesson3_runs_and_its_plots_are_labelled(overfitting):
    _check_clean_run_and_labelled_figures(overfitting, 3)


def test_lesson3_moderate_dropout_shrinks_the_gap_and_too_much_underfits(overfitting):
    final = {float(p): row for p, row in overfitting.values["final"].items()}
    assert final[0.5]["accuracy gap"] < final[0.0]["accuracy gap"]
    assert final[0.5]["val accuracy"] > final[0.0]["val accuracy"]
    losses = [final[p]["loss gap"] for p in (0.0, 0.2, 0.5, 0.8)]
    assert losses == sorted(losses, reverse=True)
    assert final[0.95]["train accuracy"] < final[0.5]["train accuracy"] - 0.2
    assert final[0.95]["val accuracy"] < final[0.5]["val accuracy"] - 0.2
    assert overfitting.values["best_p"] in (0.5, 0.8)
    assert overfitting.values["verdict"].startswith("overfitting")


def test_lesson3_metrics_match_the_worked_example_and_the_library(overfitting):
    v = overfitting.values
    assert v["worked"] == pytest.approx({"precision": 85 / 95, "recall": 0.85, "accuracy": 0.875})
    assert v["ours"] == pytest.approx(v["library"], abs=1e-12)
    assert v["matrix"] == [v["counts"][:2], v["counts"][2:]]


def test_lesson3_leakage_inflates_validation_accuracy(overfitting):
    assert overfitting.values["leaky"] > overfitting.values["honest"] + 0.1
