package dev.handoff.spring;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffRejectedException;
import dev.handoff.core.HandoffResult;
import dev.handoff.core.Takeover;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Ties the handoff to the application's life: READY only once the context is up and the web server
 * accepts ({@link ApplicationReadyEvent}); when a successor has taken over, the drain: readiness becomes
 * {@link ReadinessState#REFUSING_TRAFFIC}, every {@link HandoffDrainParticipant} drains, then the web
 * server ({@link WebServerDrain}: it stops accepting, moves its keep-alive connections to the successor
 * where it can, answers what cannot move with {@code Connection: close}, and waits for its connections to
 * end), all within the takeover's deadline ({@code handoff.drain-timeout}); then the context closes
 * ({@link SpringApplication#exit}) and, with {@code handoff.exit-when-done}, the JVM exits with the
 * application's exit code.
 */
public class HandoffCoordinator implements ApplicationListener<ApplicationReadyEvent> {

    private static final Logger log = LoggerFactory.getLogger(HandoffCoordinator.class);

    private final Handoff handoff;
    private final WebServerDrain webServer;
    private final List<HandoffDrainParticipant> participants;
    private final ConfigurableApplicationContext context;
    private final boolean exitWhenDone;
    private volatile boolean ready;
    private volatile boolean draining;
    private volatile WebServerDrain.Outcome lastDrain;

    public HandoffCoordinator(Handoff handoff, WebServerDrain webServer, List<HandoffDrainParticipant> participants,
                              ConfigurableApplicationContext context, boolean exitWhenDone) {
        this.handoff = handoff;
        this.webServer = webServer;
        this.participants = participants;
        this.context = context;
        this.exitWhenDone = exitWhenDone;
    }

    @Override
    public void onApplicationEvent(ApplicationReadyEvent event) {
        if (event.getApplicationContext() != context || ready) {
            return;
        }
        ready = true;
        handoff.onExit(this::handedOver);
        try {
            handoff.ready();
        } catch (HandoffRejectedException e) {
            // The predecessor serves on and this application must not: failing the start stops the web server.
            throw new UncheckedIOException(e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("could not tell the predecessor READY", e);
        }
        context.publishEvent(new HandoffReadyEvent(handoff));
    }

    public boolean isReady() {
        return ready;
    }

    /** From the takeover on: the drain participants run first, then the web server drains. */
    public boolean isDraining() {
        return draining;
    }

    /** What this process's drain did with the web server's connections, once it is over. */
    public Optional<WebServerDrain.Outcome> lastDrain() {
        return Optional.ofNullable(lastDrain);
    }

    private void handedOver(Takeover takeover) {
        // Not a daemon, whatever thread tells of the takeover: the drain ends in the context's close, which
        // stops the web server's threads; were this the last live thread but a daemon, the JVM would begin
        // to exit under it, cutting the close short (beans not destroyed) and leaving Spring's shutdown hook
        // to poll for the context's end.
        Thread drain = new Thread(() -> drain(takeover), "handoff-drain");
        drain.setDaemon(false);
        drain.start();
    }

    private void drain(Takeover takeover) {
        long start = System.nanoTime();
        HandoffResult result = takeover.handoff();
        Instant deadline = takeover.deadline();
        log.info("pid {} took over; draining (deadline {})", result.peerPid(), deadline);
        draining = true;
        AvailabilityChangeEvent.publish(context, ReadinessState.REFUSING_TRAFFIC);
        for (HandoffDrainParticipant participant : participants) {
            try {
                participant.drain(takeover);
            } catch (Exception e) {
                log.warn("drain participant {} failed", participant, e);
            }
        }
        if (takeover.isSuccessorLost()) {
            // Lost means its process is gone. The starter does not resume (its web server's acceptor has been
            // stopped for the drain), so once this process exits nobody serves: say so where people look.
            log.error("the successor (pid {}) died during the drain; the drain participants kept what it did not "
                    + "take, and this process drains and exits all the same (the starter does not resume): start "
                    + "the service again", result.peerPid());
        }
        WebServerDrain.Outcome outcome;
        try {
            outcome = webServer.drain(takeover);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outcome = new WebServerDrain.Outcome(0, 0, Map.of(), webServer.openConnections());
        } catch (RuntimeException | LinkageError e) {
            // The successor serves already: this process must still close its context and exit, not linger.
            log.error("the web server's drain failed; this process closes what it still has and exits", e);
            outcome = new WebServerDrain.Outcome(0, 0, Map.of(), webServer.openConnections());
        }
        log.info("drained in {} ms: {} connections moved to pid {}, {} kept here, not movable {}, {} still open",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), outcome.moved(), result.peerPid(),
                outcome.kept(), outcome.unmovable(), outcome.leftOpen());
        lastDrain = outcome;
        context.publishEvent(new HandoffDrainedEvent(takeover, outcome));
        takeover.done();
        int status = SpringApplication.exit(context);
        if (exitWhenDone) {
            System.exit(status);
        }
    }

}
