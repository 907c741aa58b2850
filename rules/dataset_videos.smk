# Building a speaker's dataset, per video (docs/dataset.md §6-11, 18): [make_sample_video | download_video ->
# cut_interval ->] change_fps -> extract_frames -> detect_keypoints -> remove_outliers -> rescale_shoulders ->
# generate_clips.  One job per video (an interval of an interval table or link list is a video): N videos run
# as N parallel jobs; the video stages declare one thread, so two videos run side by side on 2 cores (detection
# keeps ~1.3 cores busy, one ffmpeg ~1: benchmarks/chain.py).  The per-speaker stages are in dataset_speakers.smk.


rule make_sample_video:
    input:
        photo=PLAN.sample.photo,
    output:
        video="results/{speaker}/source/{video}.mp4",
        templates="results/{speaker}/source/{video}.templates.csv",
    log:
        "logs/make_sample_video/{speaker}/{video}.log",
    wildcard_constraints:
        speaker=PLAN.speakers_of("sample"),
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("make_sample_video"),
        seconds=PLAN.sample.seconds,
        seed=PLAN.sample.seed,
        phrase_seconds=PLAN.sample.phrase_seconds,
    script:
        "../workflow_scripts/make_sample_video.py"


rule download_video:
    output:
        video="results/{speaker}/download/{video}.mp4",
        record="results/{speaker}/download/{video}.json",
    log:
        "logs/download_video/{speaker}/{video}.log",
    wildcard_constraints:
        speaker=PLAN.speakers_of("links"),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        code=code("download_video"),
        url=link_url,
    script:
        "../workflow_scripts/download_video.py"


rule cut_interval:
    input:
        video=interval_input("video"),
        identity=interval_input("identity"),
    output:
        video="results/{speaker}/intervals/{video}.mp4",
    log:
        "logs/cut_interval/{speaker}/{video}.log",
    benchmark:
        "results/benchmarks/cut_interval/{speaker}/{video}.tsv"
    wildcard_constraints:
        speaker=PLAN.interval_speakers(),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        code=code("cut_interval"),
        start=interval_input("start"),
        end=interval_input("end"),
        row=interval_input("row"),
        source=interval_input("source"),
    script:
        "../workflow_scripts/cut_interval.py"


rule change_fps:
    input:
        video=source_video,
        identity=identity_file,
    output:
        video="results/{speaker}/fps/{video}.mp4",
    log:
        "logs/change_fps/{speaker}/{video}.log",
    benchmark:
        "results/benchmarks/change_fps/{speaker}/{video}.tsv"
    wildcard_constraints:
        speaker=PLAN.speakers_of("videos", "links", "sample"),
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        code=code("change_fps"),
        fps=PLAN.dataset.fps,
        source=source_identity,
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
        "results/benchmarks/extract_frames/{speaker}/{video}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        code=code("extract_frames"),
        frame_height=PLAN.dataset.frame_height,
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
        "results/benchmarks/detect_keypoints/{speaker}/{video}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        code=code("detect_keypoints"),
        detector=PLAN.dataset.detector,
        fps=PLAN.dataset.fps,
        redetect=PLAN.dataset.redetect,
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
        code=code("remove_outliers"),
        outlier_px=PLAN.dataset.outlier_px,
        cut_jump=PLAN.dataset.cut_jump,
        cut_zoom=PLAN.dataset.cut_zoom,
        cut_picture=PLAN.dataset.cut_picture,
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
        code=code("rescale_shoulders"),
        enabled=PLAN.dataset.rescale_shoulders,
        reference_px=PLAN.dataset.reference_shoulder_px,
        per=lambda wc: PLAN.rescale_per(wc.speaker),
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
        code=code("generate_clips"),
        fps=PLAN.dataset.fps,
        clip_frames=PLAN.dataset.clip_frames,
        clip_stride=PLAN.dataset.clip_stride,
        skip_frames=PLAN.dataset.skip_frames,
        audio_rate=PLAN.dataset.audio_rate,
        last_window=PLAN.dataset.last_window,
        av_sync=PLAN.dataset.av_sync,
    script:
        "../workflow_scripts/generate_clips.py"
