from spark_lgbm_tuning.pipelines.tuning.summary import efficiency


def test_a_full_cluster_at_two_cpus_per_task_is_fully_efficient():
    # 4 cores at spark.task.cpus 2 are 2 task slots; both fitted for the whole 10 s wall.
    assert efficiency(sum_fit_s=20.0, wall_s=10.0, total_cores=4, cpus_per_task=2) == 1.0


def test_efficiency_at_one_cpu_per_task_divides_by_cores():
    assert efficiency(sum_fit_s=15.0, wall_s=10.0, total_cores=2, cpus_per_task=1) == 0.75


def test_more_cpus_per_task_than_cores_still_counts_one_slot():
    assert efficiency(sum_fit_s=5.0, wall_s=10.0, total_cores=1, cpus_per_task=2) == 0.5
