"""[tool.handoff]: what the project says, checked; a wrong key fails in one line naming it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import write_pyproject

import sample_model.contracts
from handoff_kit import config
from handoff_kit.config import ConfigError


def use(root: Path) -> None:
    """What every command does first: read the settings, import the contract and
    the training function."""
    settings = config.load(root)
    assert settings.contract
    settings.trainer()


def refusal(root: Path, drop: tuple[str, ...] = (), **changes: object) -> str:
    """The one-line error for the sample project's settings with `changes`."""
    write_pyproject(root, drop, **changes)
    with pytest.raises(ConfigError) as refused:
        use(root)
    message = str(refused.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


def test_the_sample_project_reads_with_its_defaults_and_its_project_table(
    project: Path,
) -> None:
    settings = config.load(project)

    assert settings.root == project
    assert settings.package == "sample_model"
    assert settings.registry == "files"
    assert settings.package_dir == project / "package/src/sample_model"
    assert settings.snapshot == project / "package/contracts.lock.json"
    assert settings.catalog == project / "data/catalog"
    assert settings.report == project / "reports/handoff.md"
    assert settings.lock == project / "uv.lock"
    assert settings.distribution == "sample-project"
    assert settings.description == "Scores houses on the market: will they sell?"
    assert (settings.promotion_metric, settings.promotion_goal) == ("", "maximize")
    assert settings.promotion_tolerance == 0.01


def test_the_promotion_metric_its_goal_and_tolerance_are_read(project: Path) -> None:
    write_pyproject(
        project,
        promotion_metric="brier_score",
        promotion_goal="minimize",
        promotion_tolerance=0,
    )
    settings = config.load(project)

    assert settings.promotion_metric == "brier_score"
    assert settings.promotion_goal == "minimize"
    assert settings.promotion_tolerance == 0.0


def test_the_contract_is_imported_with_the_models_sides(project: Path) -> None:
    contract = config.load(project).contract

    assert contract.version == "1.0.0"
    assert contract.inputs == (sample_model.contracts.Features,)
    assert contract.outputs == (sample_model.contracts.Predictions,)
    assert contract.interfaces == (sample_model.contracts.Model,)
    assert contract.model_input is sample_model.contracts.Features
    assert contract.model_output is sample_model.contracts.Predictions
    assert contract.model_interface is sample_model.contracts.Model


def test_the_project_is_found_from_any_folder_below_it(project: Path) -> None:
    assert config.load(project / "data/catalog").root == project


def test_the_current_folder_is_the_default_start(project: Path) -> None:
    assert config.load().root == project


def test_outside_a_project_every_command_says_where_to_run(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')

    with pytest.raises(
        ConfigError,
        match=r"no pyproject.toml with a \[tool.handoff\] table in .* or above",
    ):
        config.load(tmp_path)


def test_a_pyproject_that_is_not_toml_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.handoff\n")

    with pytest.raises(ConfigError, match=r"pyproject.toml: not valid TOML"):
        config.load(tmp_path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "[tool.handoff] has an unknown key 'colour' (keys: package, contracts, "),
        ({"registry": "postgres"}, "[tool.handoff] registry: got 'postgres'; it must be one of 'mlflow', 'files'"),
        ({"registry": 3}, "[tool.handoff] registry: got 3; it must be one of"),
        ({"snapshot": " "}, "[tool.handoff] snapshot: got ' '; it must be the contract snapshot's path"),
        ({"train": "sample_model.training.train"}, "[tool.handoff] train: 'sample_model.training.train' is not 'module:name'; it must be 'module:function' returning handoff_kit.Trained"),
        ({"model_input": "Features"}, "[tool.handoff] model-input: 'Features' is not 'module:name'"),
        ({"package": "sample-model"}, "[tool.handoff] package: 'sample-model' is not a module name"),
        ({"contracts": "sample_model:contracts"}, "[tool.handoff] contracts: 'sample_model:contracts' is not a module name"),
        ({"model_name": "sample model"}, "[tool.handoff] model-name: 'sample model' is not a plain name"),
        ({"promotion_goal": "higher"}, "[tool.handoff] promotion-goal: got 'higher'; it must be one of 'maximize', 'minimize'"),
        ({"promotion_tolerance": -0.1}, "[tool.handoff] promotion-tolerance: got -0.1; it must be how much worse"),
        ({"promotion_tolerance": "0.1"}, "[tool.handoff] promotion-tolerance: got '0.1'; it must be how much worse"),
        ({"promotion_tolerance": float("nan")}, "[tool.handoff] promotion-tolerance: got nan;"),
        ({"promotion_tolerance": True}, "[tool.handoff] promotion-tolerance: got True;"),
    ],
    ids=["unknown-key", "registry", "not-a-string", "blank", "train-dotted", "input-bare", "package", "contracts", "model-name", "goal", "negative-tolerance", "text-tolerance", "nan-tolerance", "bool-tolerance"],
)  # fmt: skip
def test_a_wrong_value_is_refused_naming_its_key_and_what_is_right(
    project: Path, changes: dict[str, object], message: str
) -> None:
    assert message in refusal(project, **changes)


@pytest.mark.parametrize(
    "key", ["package", "contracts", "train", "model-input", "model-output", "model-interface", "model-name", "registry", "package-dir"]
)  # fmt: skip
def test_every_required_key_missing_is_named(project: Path, key: str) -> None:
    message = refusal(project, drop=(key,))

    assert message.startswith(
        f"pyproject.toml [tool.handoff] {key}: missing; it must be "
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"contracts": "nowhere.contracts"}, "[tool.handoff] contracts: cannot import 'nowhere.contracts' (No module named 'nowhere'); is the project installed (make setup)?"),
        ({"train": "sample_model.training:trian"}, "[tool.handoff] train: sample_model.training has no 'trian'; it must be 'module:function' returning handoff_kit.Trained"),
        ({"train": "sample_model.training:SOURCES"}, "[tool.handoff] train: sample_model.training:SOURCES is not a function"),
        ({"model_output": "sample_model.nowhere:Predictions"}, "[tool.handoff] model-output: cannot import 'sample_model.nowhere'"),
        ({"model_input": "sample_model.contracts:Model"}, "[tool.handoff] model-input: sample_model.contracts:Model is not a contract schema (a handoff_kit.Schema); it must be 'module:Schema', the contract schema the model scores"),
        ({"model_interface": "sample_model.contracts:CONTRACT_VERSION"}, "[tool.handoff] model-interface: sample_model.contracts:CONTRACT_VERSION is not a class"),
        ({"contracts": "sample_model.model"}, "[tool.handoff] contracts: sample_model.model has no CONTRACT_VERSION string; it must be the contract module"),
    ],
    ids=["module-missing", "attribute-missing", "not-callable", "object-module-missing", "not-a-schema", "not-a-class", "no-version"],
)  # fmt: skip
def test_what_a_key_names_must_import_and_be_the_right_kind(
    project: Path, changes: dict[str, object], message: str
) -> None:
    assert message in refusal(project, **changes)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("INPUTS", ["Features"], "sample_model.contracts.INPUTS is missing or not a tuple"),
        ("INTERFACES", None, "sample_model.contracts.INTERFACES is missing or not a tuple"),
        ("OUTPUTS", (int,), "sample_model.contracts.OUTPUTS holds <class 'int'>, not a schema"),
        ("INPUTS", ("Features",), "sample_model.contracts.INPUTS holds 'Features', not a schema"),
    ],
)  # fmt: skip
def test_the_contract_module_must_list_its_schemas_and_interfaces_in_tuples(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: object,
    message: str,
) -> None:
    monkeypatch.setattr(sample_model.contracts, name, value)

    assert f"[tool.handoff] contracts: {message}; it must be" in refusal(project)


def test_the_gates_run_tools_with_the_kits_own_interpreter() -> None:
    assert config.python() == sys.executable
