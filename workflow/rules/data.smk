rule prepare:
    input:
        dataset_raw_input,
    output:
        "results/data/{dataset}/meta.json",
    params:
        args=prepare_args,
        out="results/data/{dataset}",
    log:
        "logs/prepare/{dataset}.log",
    benchmark:
        "benchmarks/prepare/{dataset}.tsv"
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark prepare --dataset {wildcards.dataset} --source {params.args[source]}"
        " --root {params.args[root]:q} --normalize {params.args[normalize]}"
        " --options {params.args[options]:q} --out {params.out} > {log} 2>&1"


rule split:
    input:
        data="results/data/{dataset}/meta.json",
        lists=split_list_input,
    output:
        split="results/splits/{dataset}_{benchmark}_{lt}.txt",
        counts="results/splits/{dataset}_{benchmark}_{lt}_counts.csv",
    params:
        args=split_args,
    log:
        "logs/split/{dataset}_{benchmark}_{lt}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark split {params.args} --out {output.split} --counts {output.counts} > {log} 2>&1"
