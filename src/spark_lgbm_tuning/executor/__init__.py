"""The executor side: one trial (load the shipped fold, fit LightGBM, score it).

No Kedro import here or below: Spark executors import only this subpackage, `vocabulary`
and their libraries (LightGBM, scikit-learn, numpy, psutil, pyspark).
"""
