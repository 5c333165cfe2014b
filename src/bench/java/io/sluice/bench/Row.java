package io.sluice.bench;

import java.util.List;

/**
 * One line of the table and one object of the JSON: a scenario's figures, or why there are none.
 *
 * @param scenario the scenario's number (1-6)
 * @param name what ran, e.g. "Publish 100 B, 64 publishers"
 * @param perSecond messages per second, null when the run produced no figures
 */
record Row(int scenario, String name, Double perSecond, long messages, double seconds, Latency.Summary latency,
           long errors, Resources resources, List<String> notes) {

    static Row of(int scenario, String name, Measured m) {
        return new Row(scenario, name, m.perSecond(), m.messages(), m.seconds(), m.latency(), m.errors(),
                m.resources(), List.copyOf(m.notes()));
    }

    Row withNote(String note) {
        List<String> all = new java.util.ArrayList<>(notes);
        all.add(note);
        return new Row(scenario, name, perSecond, messages, seconds, latency, errors, resources, List.copyOf(all));
    }

    /** A run that produced no figures, and why. */
    static Row without(int scenario, String name, String why) {
        return new Row(scenario, name, null, 0, 0, Latency.Summary.NONE, 0, Resources.NONE, List.of(why));
    }
}
