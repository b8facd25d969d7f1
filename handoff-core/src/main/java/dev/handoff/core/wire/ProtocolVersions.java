package dev.handoff.core.wire;

import java.util.List;
import java.util.OptionalInt;

/** The protocol versions this library speaks, and how two peers agree on one. */
public final class ProtocolVersions {

    /** Versions this side speaks. */
    public static final List<Integer> SUPPORTED = List.of(1);

    private ProtocolVersions() {
    }

    /** The highest version both sides speak. */
    public static OptionalInt negotiate(List<Integer> theirs) {
        return theirs == null ? OptionalInt.empty()
                : theirs.stream().filter(SUPPORTED::contains).mapToInt(Integer::intValue).max();
    }
}
