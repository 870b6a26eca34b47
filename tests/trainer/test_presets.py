"""Benchmark presets: every one resolves for every method it names, on a dataset the trainer can read."""

from __future__ import annotations

import pytest

from engine.errors import ZsarError
from engine.skeleton.preprocess import PreprocessConfig
from trainer.data.datasets import FILE_GROUP, load_skeletons
from trainer.data.splits import combined_split, load_split
from trainer.presets import preset_config, preset_names


def test_every_preset_resolves_for_each_of_its_methods():
    names = preset_names()
    for expected in ("utd_mhad_split1", "nw_ucla_split3", "bandai_namco2_split2", "ntu60_synse_55_5",
                     "ntu60_smie_split_1", "ntu120_smie_split_6", "pku51_smie_split_9"):
        assert expected in names
    for name in names:
        split = load_split(name)
        readable = (split.dataset in FILE_GROUP or combined_split(split.dataset) is not None
                    or split.dataset == "procedural")
        assert readable and split.has_validation, name
        benchmark = name != "zsar_default"  # the default bundle's preset trains only the methods it may ship
        every = ("sa_dvae", "sa_dvae_fd", "naive_alignment", "cada_vae", "fs_vae", "pgfa", "scale", "contrastive")
        for method in every if benchmark else ("contrastive",):
            config = preset_config(name, method, data_root="/nowhere")
            assert config.method == method and config.pretrain is not None and config.split == name


@pytest.mark.parametrize("dataset", ["ntu60", "pku51"])
def test_a_benchmark_without_the_users_dataset_copy_says_to_pass_data_root(tmp_path, dataset):
    with pytest.raises(ZsarError, match="--data-root"):
        load_skeletons(dataset, tmp_path, PreprocessConfig(style="aimclr", window=50, num_bodies=2))


def test_recipes_resolve_on_every_cross_dataset_fold():
    """The benchmark's two recipes (today's and the default bundle's) and each ablation variant build a
    run config for every leave-one-dataset-out fold, with the fold's split and the variant's change."""
    from trainer.commands.bench_zeroshot import FOLDS
    from trainer.presets import recipe_config, recipe_document

    new, old = recipe_document("zsar_default"), recipe_document("zsar_default_v1")
    assert old["benchmark_method"] == "sa_dvae" and new["benchmark_method"] == "contrastive"
    for held_out in FOLDS:
        split = f"zsar_loo_{held_out}"
        c_old = recipe_config(old, split, "sa_dvae", None)
        c_new = recipe_config(new, split, "contrastive", None)
        assert c_old.split == c_new.split == split
        assert c_old.pretrain.get("objective", "cross_entropy") == "cross_entropy"
        assert c_new.pretrain["objective"] == "text_contrastive"
        for name, variant in new["ablation"].items():
            changed = recipe_config(new, split, "contrastive", None, variant=variant)
            assert changed.pretrain != c_new.pretrain or changed.text != c_new.text, name
    with pytest.raises(ZsarError, match="unknown recipe"):
        recipe_document("no_such_recipe")


def test_pgfa_presets_train_the_encoder_end_to_end_and_others_with_a_head():
    assert preset_config("utd_mhad_split1", "pgfa", None).pretrain["objective"] == "pgfa_alignment"
    assert preset_config("utd_mhad_split1", "sa_dvae", None).pretrain.get("objective", "cross_entropy") == \
        "cross_entropy"


def test_preset_flags_change_the_text_mode_and_reuse_features(tmp_path):
    from trainer.cli import build_parser
    from trainer.commands.train import build_config

    args = build_parser().parse_args(["train", "--preset", "utd_mhad_split1", "--method", "fs_vae",
                                      "--text-mode", "name+global+local", "--features", str(tmp_path),
                                      "--epochs", "3"])
    config = build_config(args)
    assert config.text.mode == "name+global+local" and config.features == str(tmp_path.resolve())
    assert config.pretrain is None and config.method_config["epochs"] == 3  # no encoder to train again
