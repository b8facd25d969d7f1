package dev.handoff.spring.autoconfigure;

import org.springframework.boot.context.properties.ConfigurationProperties;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code handoff.*}: zero-downtime restarts of this application. Nothing happens without
 * {@code handoff.socket}.
 */
@ConfigurationProperties("handoff")
public class HandoffProperties {

    // A literal, not HandoffOptions.DEFAULT_STARTUP_NICE: Boot's metadata processor reads a default from a
    // literal only (HandoffAutoConfigurationTest checks that the two agree).
    static final int DEFAULT_STARTUP_NICE = 10;

    /** Whether to take part in handoffs at all. */
    private boolean enabled = true;

    /** The rendezvous socket (its directory is created 0700). Required. */
    private Path socket;

    /** How long each protocol step (hello, manifest, each batch of connections) may take. */
    private Duration stepTimeout = Duration.ofSeconds(10);

    /** How long a successor may take from receiving the manifest to READY (its context starting). */
    private Duration readyTimeout = Duration.ofSeconds(120);

    /** How long the incumbent watches a READY successor before it starts to drain. */
    private Duration probation = Duration.ofMillis(200);

    /**
     * How many steps nicer (Linux scheduling priority) a successor starts, from the start of
     * SpringApplication.run (its environment being ready, where only the application's properties name the
     * socket) to READY, so that it takes the cores only when the serving predecessor leaves them idle; 0 turns it
     * off. Applied only where the priority can be restored (root, CAP_SYS_NICE, RLIMIT_NICE).
     */
    private int startupNice = DEFAULT_STARTUP_NICE;

    /** How long the incumbent may drain (in-flight requests, then its connections) before it exits anyway. */
    private Duration drainTimeout = Duration.ofSeconds(30);

    /**
     * How long, during the drain, idle keep-alive connections that stay with the old generation (they cannot
     * move: TLS, behind a PROXY header; or the successor did not take them) must have been all that keeps it
     * before they are closed, the way a keep-alive timeout closes them; a client's next request soon after
     * its last answer is still answered (and told to close).
     */
    private Duration idleCloseGrace = Duration.ofSeconds(1);

    /**
     * How long a starting application waits for an incumbent that is busy (another deploy taking over, or
     * the previous generation still draining) before it fails.
     */
    private Duration busyTimeout = Duration.ofSeconds(60);

    /** User ids a peer may run as; empty means this process's own uid. */
    private Set<Long> allowedPeerUids = new LinkedHashSet<>();

    /**
     * A file (readable by its owner only) whose bytes both generations must prove they know, for hosts
     * where uids cannot tell services apart.
     */
    private Path sharedSecretFile;

    /** The command that {@code POST /actuator/handoff} (or Handoff.upgrade()) starts as the successor. */
    private List<String> upgradeCommand = new ArrayList<>();

    /** How long an upgrade waits for its successor to be READY before it kills it. */
    private Duration upgradeTimeout = Duration.ofSeconds(180);

    /** Whether the incumbent ends its JVM (status 0) once drained; off, it only closes its context. */
    private boolean exitWhenDone = true;

    /**
     * Where each generation writes its pid once it is READY (a supervisor such as the harness's, or systemd's
     * PIDFile=, follows it from generation to generation).
     */
    private Path pidFile;

    /** A successor's request path, warmed before it accepts on the listener it inherited. */
    private final WarmUp warmUp = new WarmUp();

    public WarmUp getWarmUp() {
        return warmUp;
    }

    public Path getPidFile() {
        return pidFile;
    }

    public void setPidFile(Path pidFile) {
        this.pidFile = pidFile;
    }

    public Duration getBusyTimeout() {
        return busyTimeout;
    }

    public void setBusyTimeout(Duration busyTimeout) {
        this.busyTimeout = busyTimeout;
    }

    public boolean isEnabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public Path getSocket() {
        return socket;
    }

    public void setSocket(Path socket) {
        this.socket = socket;
    }

    public Duration getStepTimeout() {
        return stepTimeout;
    }

    public void setStepTimeout(Duration stepTimeout) {
        this.stepTimeout = stepTimeout;
    }

    public Duration getReadyTimeout() {
        return readyTimeout;
    }

    public void setReadyTimeout(Duration readyTimeout) {
        this.readyTimeout = readyTimeout;
    }

    public Duration getProbation() {
        return probation;
    }

    public void setProbation(Duration probation) {
        this.probation = probation;
    }

    public int getStartupNice() {
        return startupNice;
    }

    public void setStartupNice(int startupNice) {
        this.startupNice = startupNice;
    }

    public Duration getDrainTimeout() {
        return drainTimeout;
    }

    public void setDrainTimeout(Duration drainTimeout) {
        this.drainTimeout = drainTimeout;
    }

    public Duration getIdleCloseGrace() {
        return idleCloseGrace;
    }

    public void setIdleCloseGrace(Duration idleCloseGrace) {
        this.idleCloseGrace = idleCloseGrace;
    }

    public Set<Long> getAllowedPeerUids() {
        return allowedPeerUids;
    }

    public void setAllowedPeerUids(Set<Long> allowedPeerUids) {
        this.allowedPeerUids = allowedPeerUids;
    }

    public Path getSharedSecretFile() {
        return sharedSecretFile;
    }

    public void setSharedSecretFile(Path sharedSecretFile) {
        this.sharedSecretFile = sharedSecretFile;
    }

    public List<String> getUpgradeCommand() {
        return upgradeCommand;
    }

    public void setUpgradeCommand(List<String> upgradeCommand) {
        this.upgradeCommand = upgradeCommand;
    }

    public Duration getUpgradeTimeout() {
        return upgradeTimeout;
    }

    public void setUpgradeTimeout(Duration upgradeTimeout) {
        this.upgradeTimeout = upgradeTimeout;
    }

    public boolean isExitWhenDone() {
        return exitWhenDone;
    }

    public void setExitWhenDone(boolean exitWhenDone) {
        this.exitWhenDone = exitWhenDone;
    }

    /**
     * Before a successor's web server accepts on the listener it inherited (and so before READY), requests
     * through the application's own handlers on a private loopback connector, while the predecessor serves.
     */
    public static class WarmUp {

        /** Whether a successor warms its request path up; a cold start (generation 1) never does. */
        private boolean enabled = true;

        /** The paths requested (GET), in turn; those that answer 404 warm the error path. */
        private List<String> paths = new ArrayList<>(List.of("/"));

        /** How many requests at most. */
        private int requests = 2_000;

        /** How long at most; READY waits for the warm-up, the predecessor serving meanwhile. */
        private Duration timeout = Duration.ofSeconds(5);

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public List<String> getPaths() {
            return paths;
        }

        public void setPaths(List<String> paths) {
            this.paths = paths;
        }

        public int getRequests() {
            return requests;
        }

        public void setRequests(int requests) {
            this.requests = requests;
        }

        public Duration getTimeout() {
            return timeout;
        }

        public void setTimeout(Duration timeout) {
            this.timeout = timeout;
        }
    }
}
