# Demo videos, dev-clip renderings and the figures of the HTML report (snakemake --report results/report.html):
# make_demo_audio (espeak-ng, with the sample speaker) or dev_demo_audio (the speaker's dev clips) -> demo (any
# speech -> skeleton video);  render_clips (prediction | ground truth);  plot_training (curves of the trained
# models);  plot_templates (PCA of the clip-wise template tables of the evaluated methods: SDT-BP's learned one,
# SDT-VAE's VAE means).  Every model is the trained one or the checkpoint
# evaluate.checkpoints gives (model_inputs in common.smk).  DEMO and DEMO_AUDIO are in config.smk, demo_targets in
# targets.smk.


rule make_demo_audio:
    output:
        audio="results/demo/speech.wav",
    log:
        "logs/make_demo_audio/speech.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("make_demo_audio"),
        seed=PLAN.demo.seed,
    script:
        "../workflow_scripts/make_demo_audio.py"


rule dev_demo_audio:
    input:
        dev_audio="results/{speaker}/dataset/dev_audio.npy",
        index="results/{speaker}/dataset/clips.csv",
    output:
        audio="results/{speaker}/demo/dev_speech.wav",
    log:
        "logs/dev_demo_audio/{speaker}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("dev_demo_audio"),
    script:
        "../workflow_scripts/dev_demo_audio.py"


rule demo:
    input:
        unpack(model_inputs),
        audio=demo_audio,
    output:
        video=report(
            "results/{speaker}/demo/{method}.mp4",
            caption="../report/demo.rst",
            category="Demo",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "model": "{method}", "figure": "video"},
        ),
        strip=report(
            "results/{speaker}/demo/{method}.png",
            caption="../report/demo_strip.rst",
            category="Demo",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "model": "{method}", "figure": "strip"},
        ),
    log:
        "logs/demo/{speaker}/{method}.log",
    benchmark:
        "results/benchmarks/demo/{speaker}/{method}.tsv"
    wildcard_constraints:
        method="|".join(PLAN.methods),
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        code=method_code("demo"),
        temperature=sampling_temperature,
        mode=PLAN.demo.mode,
        templates=PLAN.demo.templates,
        grid=PLAN.demo.grid,
        seed=PLAN.demo.seed,
        strip_frames=PLAN.demo.strip_frames,
    script:
        "../workflow_scripts/demo.py"


rule render_clips:
    input:
        unpack(model_inputs),
        dev_poses="results/{speaker}/dataset/dev_poses.npy",
        dev_audio="results/{speaker}/dataset/dev_audio.npy",
    output:
        video=report(
            "results/{speaker}/render/{method}.mp4",
            caption="../report/render_clips.rst",
            category="Dev clips",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "model": "{method}"},
        ),
    log:
        "logs/render_clips/{speaker}/{method}.log",
    benchmark:
        "results/benchmarks/render_clips/{speaker}/{method}.tsv"
    wildcard_constraints:
        method="|".join(PLAN.methods),
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        code=method_code("render_clips"),
        temperature=sampling_temperature,
        clips=PLAN.demo.clips,
        seed=PLAN.demo.seed,
    script:
        "../workflow_scripts/render_clips.py"


rule plot_training:
    input:
        histories=training_histories,
    output:
        plot=report(
            "results/{speaker}/plots/training.png",
            caption="../report/training.rst",
            category="Training",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "figure": "curves"},
        ),
    log:
        "logs/plot_training/{speaker}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("plot_training"),
        methods=training_plot_methods,
    script:
        "../workflow_scripts/plot_training.py"


rule plot_templates:
    input:
        unpack(template_models),
    output:
        plot=report(
            "results/{speaker}/plots/templates.png",
            caption="../report/templates.rst",
            category="Training",
            subcategory="{speaker}",
            labels={"speaker": "{speaker}", "figure": "templates"},
        ),
    log:
        "logs/plot_templates/{speaker}.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("plot_templates"),
        labels=template_labels,
    script:
        "../workflow_scripts/plot_templates.py"
