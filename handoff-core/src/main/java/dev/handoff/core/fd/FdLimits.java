package dev.handoff.core.fd;

/** What one message may carry; a message over a limit is refused before it is read or sent. */
public record FdLimits(int maxPayloadBytes, int maxFds) {

    /** 16 MiB of payload and 100,000 descriptors. */
    public static final FdLimits DEFAULT = new FdLimits(16 << 20, 100_000);

    public FdLimits {
        if (maxPayloadBytes < 0 || maxFds < 0) {
            throw new IllegalArgumentException("limits must not be negative");
        }
    }
}
