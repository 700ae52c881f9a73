rule prepare:
    input:
        dataset_raw_input,
    output:
        "results/data/{dataset}/meta.json",
    params:
        args=prepare_args,
        max_persons=prepare_max_persons,
        out="results/data/{dataset}",
    log:
        "logs/prepare/{dataset}.log",
    benchmark:
        "benchmarks/prepare/{dataset}.tsv"
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark prepare --dataset {wildcards.dataset:q} --source {params.args[source]:q}"
        " --root {params.args[root]:q} --normalize {params.args[normalize]:q}"
        " --options {params.args[options]:q} {params.max_persons:q} --out {params.out:q} > {log:q} 2>&1"


rule split:
    input:
        data="results/data/{dataset}/meta.json",
        lists=split_list_input,
    output:
        split="results/splits/{dataset}_{benchmark}_{lt}.txt",
        counts="results/splits/{dataset}_{benchmark}_{lt}_counts.csv",
    params:
        p=split_params,
    log:
        "logs/split/{dataset}_{benchmark}_{lt}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark split --data {params.p[data]:q} --benchmark {params.p[benchmark]:q}"
        " --ratio {params.p[ratio]:q} {params.p[n_max]:q} {params.p[split_list]:q} {params.p[thresholds]:q}"
        " --out {output.split:q} --counts {output.counts:q} > {log:q} 2>&1"
