package dev.handoff.core.session;

import dev.handoff.core.fd.FdLimits;

import java.time.Duration;
import java.util.Set;

/**
 * The settings one handoff runs with.
 *
 * @param stepTimeout  how long each protocol step may take (hello, manifest)
 * @param readyTimeout how long the successor may take from receiving the manifest to READY
 * @param probation    how long the incumbent watches a READY successor before it agrees to exit
 * @param allowedUids  user ids a peer may run as
 * @param limits       frame size and fd count limits
 * @param secret       a secret both sides must prove they know, or null
 */
public record SessionConfig(Duration stepTimeout, Duration readyTimeout, Duration probation, Set<Long> allowedUids,
                            FdLimits limits, SharedSecret secret) {

    public SessionConfig {
        allowedUids = Set.copyOf(allowedUids);
    }
}
