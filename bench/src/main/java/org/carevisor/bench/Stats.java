package org.carevisor.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Percentiles of a list of durations in milliseconds. */
final class Stats {
    private final List<Double> values;

    Stats(List<Double> values) {
        this.values = new ArrayList<>(values);
        Collections.sort(this.values);
    }

    /** Nearest-rank percentile. */
    double p(double percentile) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(percentile / 100.0 * values.size());
        return values.get(Math.max(0, Math.min(values.size() - 1, rank - 1)));
    }

    double min() {
        return values.get(0);
    }

    double max() {
        return values.get(values.size() - 1);
    }

    int n() {
        return values.size();
    }
}
