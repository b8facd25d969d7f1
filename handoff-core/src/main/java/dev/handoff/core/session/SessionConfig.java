package dev.handoff.core.session;

import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.Lifeline;

import java.time.Duration;
import java.util.Set;

/**
 * The settings one handoff runs with.
 *
 * @param stepTimeout  how long each protocol step may take (hello, manifest, each send)
 * @param readyTimeout how long the successor may take from receiving the manifest to READY
 * @param probation    how long the incumbent watches a READY successor before it agrees to exit
 * @param drainTimeout how long the incumbent's drain may last (zero: no limit); the successor receives
 *                     connections this long, plus a step, after its READY was confirmed
 * @param allowedUids  user ids a peer may run as
 * @param limits       frame size and fd count limits
 * @param secret       a secret both sides must prove they know, or null
 * @param lifeline     this process's lifeline, whose end goes to every peer
 */
public record SessionConfig(Duration stepTimeout, Duration readyTimeout, Duration probation, Duration drainTimeout,
                            Set<Long> allowedUids, FdLimits limits, SharedSecret secret, Lifeline lifeline) {

    public SessionConfig {
        allowedUids = Set.copyOf(allowedUids);
    }

    /** The same settings with the peer's drain timeout (from its confirmation). */
    SessionConfig withDrainTimeout(Duration peerDrainTimeout) {
        return new SessionConfig(stepTimeout, readyTimeout, probation, peerDrainTimeout, allowedUids, limits, secret,
                lifeline);
    }
}
