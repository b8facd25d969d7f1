package dev.handoff.core;

import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.PeerCredentials;
import dev.handoff.core.session.SharedSecret;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Everything {@link Handoff} can be told, in one place. Build with {@link #builder(Path)}; every setting
 * but the socket path has a default.
 */
public final class HandoffOptions {

    /** How many steps nicer a successor starts unless told otherwise ({@link Builder#startupNice}). */
    public static final int DEFAULT_STARTUP_NICE = 10;

    private final Path socketPath;
    private final Duration stepTimeout;
    private final Duration readyTimeout;
    private final Duration probation;
    private final Set<Long> allowedPeerUids;
    private final SharedSecret sharedSecret;
    private final List<String> upgradeCommand;
    private final Duration upgradeTimeout;
    private final Duration drainTimeout;
    private final Duration busyTimeout;
    private final Path pidFile;
    private final FdLimits limits;
    private final int backlog;
    private final int startupNice;
    private final MeterRegistry meterRegistry;

    private HandoffOptions(Builder builder) {
        this.socketPath = builder.socketPath.toAbsolutePath();
        this.stepTimeout = builder.stepTimeout;
        this.readyTimeout = builder.readyTimeout;
        this.probation = builder.probation;
        this.allowedPeerUids = builder.allowedPeerUids == null ? Set.of(PeerCredentials.ownUid()) : Set.copyOf(builder.allowedPeerUids);
        this.sharedSecret = builder.sharedSecret;
        this.upgradeCommand = List.copyOf(builder.upgradeCommand);
        this.upgradeTimeout = builder.upgradeTimeout;
        this.drainTimeout = builder.drainTimeout;
        this.busyTimeout = builder.busyTimeout;
        this.pidFile = builder.pidFile == null ? null : builder.pidFile.toAbsolutePath();
        this.limits = builder.limits;
        this.backlog = builder.backlog;
        this.startupNice = builder.startupNice;
        this.meterRegistry = builder.meterRegistry;
    }

    /** Starts a builder for a rendezvous socket at {@code socketPath} (its directory must be 0700 or absent). */
    public static Builder builder(Path socketPath) {
        return new Builder(socketPath);
    }

    public Path socketPath() {
        return socketPath;
    }

    public Duration stepTimeout() {
        return stepTimeout;
    }

    public Duration readyTimeout() {
        return readyTimeout;
    }

    public Duration probation() {
        return probation;
    }

    public Set<Long> allowedPeerUids() {
        return allowedPeerUids;
    }

    /** Whether both generations must prove they know a shared secret. */
    public boolean hasSharedSecret() {
        return sharedSecret != null;
    }

    SharedSecret sharedSecret() {
        return sharedSecret;
    }

    public List<String> upgradeCommand() {
        return upgradeCommand;
    }

    public Duration upgradeTimeout() {
        return upgradeTimeout;
    }

    /** How long a taken-over process may drain: the {@link Takeover#deadline()}. */
    public Duration drainTimeout() {
        return drainTimeout;
    }

    /**
     * How long {@link Handoff#start} waits for an incumbent that is busy (handing over to another
     * successor, or still draining into its own predecessor's successor) before it gives up.
     */
    public Duration busyTimeout() {
        return busyTimeout;
    }

    /** Where {@link Handoff#ready()} writes this process's pid, or null. */
    public Path pidFile() {
        return pidFile;
    }

    FdLimits limits() {
        return limits;
    }

    /** The largest message (JSON bytes) accepted from the peer. */
    public int maxMessageBytes() {
        return limits.maxPayloadBytes();
    }

    /** The most descriptors accepted from the peer in one message. */
    public int maxDescriptors() {
        return limits.maxFds();
    }

    public int backlog() {
        return backlog;
    }

    /** Steps nicer a successor's start-up runs, until READY (see {@link Builder#startupNice}). */
    public int startupNice() {
        return startupNice;
    }

    /** The Micrometer registry the {@code handoff.*} meters go to; empty: no metrics. */
    public Optional<MeterRegistry> meterRegistry() {
        return Optional.ofNullable(meterRegistry);
    }

    /** The largest shared secret file read: a secret needs 16 to 64 bytes, not megabytes. */
    public static final int MAX_SECRET_FILE_BYTES = 4096;

    /** Builder for {@link HandoffOptions}. */
    public static final class Builder {
        private final Path socketPath;
        private Duration stepTimeout = Duration.ofSeconds(10);
        private Duration readyTimeout = Duration.ofSeconds(60);
        private Duration probation = Duration.ofMillis(200);
        private Set<Long> allowedPeerUids;
        private SharedSecret sharedSecret;
        private List<String> upgradeCommand = List.of();
        private Duration upgradeTimeout = Duration.ofSeconds(120);
        private Duration drainTimeout = Duration.ofSeconds(30);
        private Duration busyTimeout = Duration.ofSeconds(60);
        private Path pidFile;
        private FdLimits limits = FdLimits.DEFAULT;
        private int backlog = 1024;
        private int startupNice = DEFAULT_STARTUP_NICE;
        private MeterRegistry meterRegistry;

        private Builder(Path socketPath) {
            this.socketPath = Objects.requireNonNull(socketPath, "socketPath");
        }

        /** How long each protocol step (hello, manifest) may take. Default 10 s. */
        public Builder stepTimeout(Duration value) {
            this.stepTimeout = positive(value, "stepTimeout");
            return this;
        }

        /** How long a successor may take from receiving the manifest to READY. Default 60 s. */
        public Builder readyTimeout(Duration value) {
            this.readyTimeout = positive(value, "readyTimeout");
            return this;
        }

        /**
         * How long the incumbent watches a READY successor before it agrees to exit; a successor that
         * dies in this time leaves the incumbent serving. Default 200 ms; zero disables it.
         */
        public Builder probation(Duration value) {
            this.probation = Objects.requireNonNull(value, "probation");
            if (value.isNegative()) {
                throw new InvalidOptionException("probation", "must not be negative");
            }
            return this;
        }

        /** User ids a peer may run as. Default: only this process's own uid. */
        public Builder allowedPeerUids(Set<Long> value) {
            if (value.isEmpty()) {
                throw new InvalidOptionException("allowedPeerUids", "must not be empty");
            }
            this.allowedPeerUids = Set.copyOf(value);
            return this;
        }

        /**
         * A secret (at least 16 bytes) that incumbent and successor must each prove they know, on top of
         * the uid check: for hosts where several services run as one uid. Both sides must have the same
         * one; a side without it is refused. Default: none.
         */
        public Builder sharedSecret(byte[] value) {
            this.sharedSecret = new SharedSecret(Objects.requireNonNull(value, "sharedSecret"));
            return this;
        }

        /**
         * {@link #sharedSecret(byte[])} read from a file, every byte of it. The file must be a regular file
         * (not a symbolic link: whoever can change a link chooses the secret), owned by this process's
         * user and readable by its owner only (like an ssh key), and at most {@link #MAX_SECRET_FILE_BYTES}.
         */
        public Builder sharedSecretFile(Path file) {
            byte[] secret = SecretFile.read(file);
            try {
                return sharedSecret(secret);
            } catch (IllegalArgumentException tooShort) {
                throw new SecretFileException(file, "shared secret file " + file + " holds " + secret.length
                        + " bytes: " + tooShort.getMessage(), tooShort);
            }
        }

        /** The command {@link Handoff#upgrade()} starts as the successor. */
        public Builder upgradeCommand(List<String> value) {
            this.upgradeCommand = List.copyOf(value);
            return this;
        }

        /** How long {@link Handoff#upgrade()} waits for its successor to be READY. Default 120 s. */
        public Builder upgradeTimeout(Duration value) {
            this.upgradeTimeout = positive(value, "upgradeTimeout");
            return this;
        }

        /**
         * How long an incumbent that was taken over may spend finishing in-flight requests and handing its
         * connections over: the {@link Takeover#deadline()}. At the deadline the takeover ends by itself
         * (the successor is told goodbye and connections no longer move); the application closes what is
         * left and exits. Default 30 s.
         */
        public Builder drainTimeout(Duration value) {
            this.drainTimeout = positive(value, "drainTimeout");
            return this;
        }

        /**
         * How long {@link Handoff#start} waits, trying again, when the incumbent is busy: another successor
         * is taking over, or the previous generation is still draining (back-to-back deploys). It logs once
         * what it waits for; past this it fails with {@link HandoffRejectedException}. Zero: fail at once.
         * Default 60 s (more than the default drain).
         */
        public Builder busyTimeout(Duration value) {
            Objects.requireNonNull(value, "busyTimeout");
            if (value.isNegative()) {
                throw new InvalidOptionException("busyTimeout", "must not be negative");
            }
            this.busyTimeout = value;
            return this;
        }

        /**
         * A pid file that each generation overwrites, atomically, when it is READY: for supervisors and
         * service managers that follow the serving process by its pid. Default: none.
         */
        public Builder pidFile(Path value) {
            this.pidFile = value;
            return this;
        }

        /** The largest message (JSON bytes) accepted from the peer. Default 16 MiB. */
        public Builder maxMessageBytes(int value) {
            this.limits = new FdLimits(value, limits.maxFds());
            return this;
        }

        /** The most descriptors accepted from the peer in one message. Default 100,000. */
        public Builder maxDescriptors(int value) {
            this.limits = new FdLimits(limits.maxPayloadBytes(), value);
            return this;
        }

        /** Accept backlog for listeners bound fresh. Default 1024. */
        public Builder backlog(int value) {
            if (value < 1) {
                throw new InvalidOptionException("backlog", "must be positive");
            }
            this.backlog = value;
            return this;
        }

        /**
         * How many steps nicer (Linux scheduling priority) a successor runs from {@link Handoff#start} to
         * {@link Handoff#ready}, so that its start-up takes the cores only when the serving incumbent leaves
         * them idle; 0 turns it off. Applied only where the priority can be restored at READY (root,
         * {@code CAP_SYS_NICE} or {@code RLIMIT_NICE}), and never to a cold start. Default 10.
         */
        public Builder startupNice(int value) {
            if (value < 0 || value > 19) {
                throw new InvalidOptionException("startupNice", "must be between 0 and 19");
            }
            this.startupNice = value;
            return this;
        }

        /**
         * Where the {@code handoff.*} meters go (Micrometer, an optional dependency). Default: none, and
         * Micrometer need not be on the class path.
         */
        public Builder meterRegistry(MeterRegistry value) {
            this.meterRegistry = Objects.requireNonNull(value, "meterRegistry");
            return this;
        }

        public HandoffOptions build() {
            return new HandoffOptions(this);
        }

        private static Duration positive(Duration value, String name) {
            Objects.requireNonNull(value, name);
            if (value.isNegative() || value.isZero()) {
                throw new InvalidOptionException(name, "must be positive");
            }
            return value;
        }
    }
}
