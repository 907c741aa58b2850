# Building a speaker's dataset, per speaker (docs/dataset.md §12-13): split_dataset (speakers from videos) or
# pack_released (the authors' released data) -> compute_stats; qc_table reports what every stage kept and dropped.


rule split_dataset:
    input:
        clips=per_video("results/{speaker}/clips/{video}.npz"),
        videos=manifest,
    output:
        **dataset_outputs(),
        index="results/{speaker}/dataset/clips.csv",
    log:
        "logs/split_dataset/{speaker}.log",
    wildcard_constraints:
        speaker=PLAN.speakers_of("videos", "links", "sample"),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code=code("split_dataset"),
        train_fraction=PLAN.dataset.train_fraction,
        idle_clips=PLAN.dataset.idle_clips,
        splits=interval_splits,
    script:
        "../workflow_scripts/split_dataset.py"


rule pack_released:
    input:
        index=released_index,
    output:
        **dataset_outputs(),
        index="results/{speaker}/dataset/clips.csv",
    log:
        "logs/pack_released/{speaker}.log",
    benchmark:
        "results/benchmarks/pack_released/{speaker}.tsv"
    wildcard_constraints:
        speaker=PLAN.speakers_of("released"),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        code=code("pack_released"),
        clip_frames=PLAN.dataset.clip_frames,
        audio_rate=PLAN.dataset.audio_rate,
        fps=PLAN.dataset.fps,
    script:
        "../workflow_scripts/pack_released.py"


rule compute_stats:
    input:
        train_poses="results/{speaker}/dataset/train_poses.npy",
        index="results/{speaker}/dataset/clips.csv",
        release_stats=PLAN.release_stats,
    output:
        stats="results/{speaker}/stats.npz",
    log:
        "logs/compute_stats/{speaker}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code("compute_stats"),
        scale_rule=scale_rule,
        reference_px=PLAN.dataset.reference_shoulder_px,
        stats=stats_choice,
    script:
        "../workflow_scripts/compute_stats.py"


rule qc_table:
    input:
        keypoints=per_video("results/{speaker}/keypoints/{video}.npz"),
        outliers=per_video("results/{speaker}/outliers/{video}.npz"),
        clips=per_video("results/{speaker}/clips/{video}.npz"),
        index="results/{speaker}/dataset/clips.csv",
        videos=manifest,
    output:
        table=report(
            "results/{speaker}/qc.csv",
            caption="../report/qc.rst",
            category="Tables",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "table": "quality control"},
        ),
    log:
        "logs/qc_table/{speaker}.log",
    wildcard_constraints:
        speaker=PLAN.speakers_of("videos", "links", "sample"),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("qc_table"),
    script:
        "../workflow_scripts/qc_table.py"


rule sample_qc:
    input:
        keypoints=per_video("results/{speaker}/keypoints/{video}.npz"),
        videos=per_video("results/{speaker}/fps/{video}.mp4"),
        labels=per_video("results/{speaker}/source/{video}.templates.csv"),
    output:
        table="results/{speaker}/sample_qc.csv",
        figure=report(
            "results/{speaker}/plots/sample_qc.png",
            caption="../report/sample_qc.rst",
            category="Tables",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "table": "sample speaker QC"},
        ),
    log:
        "logs/sample_qc/{speaker}.log",
    wildcard_constraints:
        speaker=PLAN.speakers_of("sample"),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("sample_qc"),
        fps=PLAN.dataset.fps,
    script:
        "../workflow_scripts/sample_qc.py"
