"""Spark set-up: the SparkSession of conf/<env>/spark.yml and the checks of its master."""
