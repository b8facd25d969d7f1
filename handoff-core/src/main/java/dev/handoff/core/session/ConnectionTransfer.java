package dev.handoff.core.session;

import java.util.BitSet;
import java.util.List;

/**
 * How a hand-over of connections went, seen from the incumbent.
 *
 * @param adopted  indexes (into the list that was offered) of the connections the successor now owns;
 *                 every other connection is still the incumbent's, open and untouched
 * @param problems why some were not adopted, in words; empty when all were
 */
public record ConnectionTransfer(BitSet adopted, List<String> problems) {

    public ConnectionTransfer {
        adopted = (BitSet) adopted.clone();
        problems = List.copyOf(problems);
    }
}
