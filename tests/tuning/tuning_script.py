"""One process of a distributed search (chief oracle or worker), for the tests.

The role comes from KerasTuner's environment variables
(KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_transformer_bit.tuning import make_tuner, results_table  # noqa: E402
from tests.tuning.toy_hypermodel import DenseHyperModel, regression_data  # noqa: E402


def main():
    directory, max_trials = sys.argv[1], int(sys.argv[2])
    tuner = make_tuner(
        "random_search", DenseHyperModel(), max_trials=max_trials, directory=directory
    )
    x, y = regression_data()
    tuner.search(x, y, validation_split=0.25, epochs=2, verbose=0)
    role = os.environ.get("KERASTUNER_TUNER_ID", "single")
    if role == "chief":
        print(results_table(tuner), flush=True)
    print(f"ROLE_DONE {role}", flush=True)


if __name__ == "__main__":
    main()
