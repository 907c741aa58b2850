# Building a speaker's dataset (SDT_SPEC 2): per video  [make_sample_video ->] change_fps -> extract_frames ->
# detect_keypoints -> remove_outliers -> rescale_shoulders -> generate_clips;  per speaker  split_dataset (or
# pack_released) -> compute_stats, and qc_table.


rule make_sample_video:
    input:
        photo=config["sample"]["photo"],
    output:
        video="results/{speaker}/source/{video}.mp4",
    log:
        "logs/make_sample_video/{speaker}/{video}.log",
    wildcard_constraints:
        speaker=SAMPLE_SPEAKERS,
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("sdt/dataset/make_sample_video.py"),
        seconds=config["sample"]["seconds"],
        seed=config["sample"]["seed"],
    script:
        "../workflow_scripts/make_sample_video.py"


rule change_fps:
    input:
        video=source_video,
    output:
        video="results/{speaker}/fps/{video}.mp4",
    log:
        "logs/change_fps/{speaker}/{video}.log",
    benchmark:
        "benchmarks/change_fps/{speaker}/{video}.tsv"
    wildcard_constraints:
        speaker=VIDEO_SPEAKERS,
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        code=code("sdt/media.py"),
        fps=DATASET["fps"],
    script:
        "../workflow_scripts/change_fps.py"


rule extract_frames:
    input:
        video="results/{speaker}/fps/{video}.mp4",
    output:
        frames=frames_output("results/{speaker}/frames/{video}"),
    log:
        "logs/extract_frames/{speaker}/{video}.log",
    benchmark:
        "benchmarks/extract_frames/{speaker}/{video}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        code=code("sdt/media.py"),
    script:
        "../workflow_scripts/extract_frames.py"


rule detect_keypoints:
    input:
        frames="results/{speaker}/frames/{video}",
    output:
        keypoints="results/{speaker}/keypoints/{video}.npz",
    log:
        "logs/detect_keypoints/{speaker}/{video}.log",
    benchmark:
        "benchmarks/detect_keypoints/{speaker}/{video}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        code=code("sdt/dataset/detect_keypoints.py", "sdt/dataset/mediapipe_map.py"),
        detector=DATASET["detector"],
        fps=DATASET["fps"],
    script:
        "../workflow_scripts/detect_keypoints.py"


rule remove_outliers:
    input:
        keypoints="results/{speaker}/keypoints/{video}.npz",
    output:
        outliers="results/{speaker}/outliers/{video}.npz",
    log:
        "logs/remove_outliers/{speaker}/{video}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("sdt/dataset/remove_outliers.py"),
        outlier_px=DATASET["outlier_px"],
    script:
        "../workflow_scripts/remove_outliers.py"


rule rescale_shoulders:
    input:
        keypoints="results/{speaker}/keypoints/{video}.npz",
        outliers="results/{speaker}/outliers/{video}.npz",
    output:
        rescaled="results/{speaker}/rescaled/{video}.npz",
    log:
        "logs/rescale_shoulders/{speaker}/{video}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("sdt/dataset/remove_outliers.py"),
        enabled=DATASET["rescale_shoulders"],
        reference_px=DATASET["reference_shoulder_px"],
    script:
        "../workflow_scripts/rescale_shoulders.py"


rule generate_clips:
    input:
        rescaled="results/{speaker}/rescaled/{video}.npz",
        outliers="results/{speaker}/outliers/{video}.npz",
        video="results/{speaker}/fps/{video}.mp4",
    output:
        clips="results/{speaker}/clips/{video}.npz",
    log:
        "logs/generate_clips/{speaker}/{video}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code("sdt/dataset/generate_clips.py"),
        fps=DATASET["fps"],
        clip_frames=DATASET["clip_frames"],
        clip_stride=DATASET["clip_stride"],
        skip_frames=DATASET["skip_frames"],
        audio_rate=DATASET["audio_rate"],
    script:
        "../workflow_scripts/generate_clips.py"


rule split_dataset:
    input:
        clips=per_video("results/{speaker}/clips/{video}.npz"),
    output:
        **{f"{s}_{k}": f"results/{{speaker}}/dataset/{s}_{k}.npy" for s in SPLITS for k in ("poses", "audio")},
        index="results/{speaker}/dataset/clips.csv",
    log:
        "logs/split_dataset/{speaker}.log",
    wildcard_constraints:
        speaker=VIDEO_SPEAKERS,
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code=code("sdt/dataset/split_dataset.py"),
        train_fraction=DATASET["train_fraction"],
        idle_clips=DATASET["idle_clips"],
    script:
        "../workflow_scripts/split_dataset.py"


rule pack_released:
    input:
        index=released_index,
    output:
        **{f"{s}_{k}": f"results/{{speaker}}/dataset/{s}_{k}.npy" for s in SPLITS for k in ("poses", "audio")},
        index="results/{speaker}/dataset/clips.csv",
    log:
        "logs/pack_released/{speaker}.log",
    benchmark:
        "benchmarks/pack_released/{speaker}.tsv"
    wildcard_constraints:
        speaker=RELEASED_SPEAKERS,
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        code=code("sdt/dataset/pack_released.py", "sdt/dataset/split_dataset.py"),
        clip_frames=DATASET["clip_frames"],
        audio_rate=DATASET["audio_rate"],
        fps=DATASET["fps"],
    script:
        "../workflow_scripts/pack_released.py"


rule compute_stats:
    input:
        train_poses="results/{speaker}/dataset/train_poses.npy",
        index="results/{speaker}/dataset/clips.csv",
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
        code=code("sdt/dataset/compute_stats.py", "sdt/poses.py"),
        scale_rule=scale_rule,
        reference_px=DATASET["reference_shoulder_px"],
    script:
        "../workflow_scripts/compute_stats.py"


rule qc_table:
    input:
        keypoints=per_video("results/{speaker}/keypoints/{video}.npz"),
        outliers=per_video("results/{speaker}/outliers/{video}.npz"),
        clips=per_video("results/{speaker}/clips/{video}.npz"),
        index="results/{speaker}/dataset/clips.csv",
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
        speaker=VIDEO_SPEAKERS,
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("sdt/dataset/qc_table.py"),
    script:
        "../workflow_scripts/qc_table.py"
