rule aggregate:
    input:
        bw.final_targets(config),
    output:
        summary="results/tables/summary.csv",
        runs="results/tables/runs.csv",
        pairwise="results/tables/pairwise.csv",
    log:
        "logs/aggregate/aggregate.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.aggregate --runs-root results/runs --out results/tables > {log} 2>&1"


rule report:
    input:
        summary="results/tables/summary.csv",
        runs="results/tables/runs.csv",
        pairwise="results/tables/pairwise.csv",
        counts=[f"results/splits/{s}_counts.csv" for s in SPLITS],
    output:
        "reports/index.html",
    params:
        # the config file(s) this run used, shown on the provenance page
        config=lambda w: (workflow.configfiles or ["config/demo.yaml"])[-1],
    log:
        "logs/report/report.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.report --runs-root results/runs --splits-root results/splits"
        " --tables results/tables --data-root results/data --config {params.config:q}"
        " --out reports > {log} 2>&1"
