# Snakemake's own report (`snakemake --report report.zip`) bundles the outputs marked report()
# below (the result pages with their details, paper and provenance pages, and the tables) with the
# run statistics and the job graph.
report: "../report/workflow.rst"


rule aggregate:
    input:
        # exactly the runs this config declares: never a scan of the results folder
        runs=bw.final_targets(config),
    output:
        summary=report(f"{TABLES_DIR}/summary.csv", caption="../report/summary.rst", category="Tables"),
        runs=report(f"{TABLES_DIR}/runs.csv", caption="../report/runs.rst", category="Tables"),
        pairwise=report(f"{TABLES_DIR}/pairwise.csv", caption="../report/pairwise.rst", category="Tables"),
    params:
        # folders derived from the declared files (no hard-coded prefixes)
        runs_root=lambda w: RUNS_DIR,
        out=lambda w, output: os.path.dirname(output.summary),
    log:
        f"logs/{EXP}/aggregate.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.aggregate --runs-root {params.runs_root:q} --runs {input.runs:q}"
        " --out {params.out:q} > {log:q} 2>&1"


rule report:
    input:
        runs=bw.final_targets(config),
        summary=f"{TABLES_DIR}/summary.csv",
        runs_table=f"{TABLES_DIR}/runs.csv",
        pairwise=f"{TABLES_DIR}/pairwise.csv",
        counts=[f"results/splits/{s}_counts.csv" for s in SPLITS],
    output:
        # the whole folder: index.html links the details, paper-table and provenance pages
        report(directory(REPORT_DIR), htmlindex="index.html", caption="../report/pages.rst", category="Results"),
    params:
        # the config file(s) this run used, shown on the provenance page
        config=lambda w: (workflow.configfiles or ["config/demo.yaml"])[-1],
        runs_root=lambda w: RUNS_DIR,
        tables=lambda w, input: os.path.dirname(input.summary),
        out=lambda w, output: output[0],
    log:
        f"logs/{EXP}/report.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.report --runs-root {params.runs_root:q} --runs {input.runs:q}"
        " --splits-root results/splits --tables {params.tables:q} --data-root results/data"
        " --config {params.config:q} --out {params.out:q} > {log:q} 2>&1"
