package dev.handoff.core.wire;

import java.util.List;
import java.util.OptionalInt;

/** The protocol versions this library speaks, and how two peers agree on one. */
public final class ProtocolVersions {

    /**
     * Versions this side speaks. 2 acknowledges READY ({@code confirmed}); with version 1 a READY that
     * came too late could leave both processes serving, so it is spoken only to a peer that knows nothing
     * newer (a deploy from an older release).
     */
    public static final List<Integer> SUPPORTED = List.of(1, 2);

    /** The first version whose READY is acknowledged. */
    public static final int CONFIRMED_READY = 2;

    private ProtocolVersions() {
    }

    /** The highest version both sides speak. */
    public static OptionalInt negotiate(List<Integer> theirs) {
        return theirs == null ? OptionalInt.empty()
                : theirs.stream().filter(SUPPORTED::contains).mapToInt(Integer::intValue).max();
    }
}
