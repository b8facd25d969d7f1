package dev.handoff.core.session;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdChannelException;
import dev.handoff.core.fd.PeerCredentials;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

/**
 * The incumbent's side of one handoff: check the peer, agree on a version, send the manifest and the
 * descriptors, wait for READY, then watch the successor through a short probation. The incumbent keeps
 * serving throughout; nothing here touches its listeners, so any failure simply leaves it as it was.
 */
public final class IncumbentSession {

    private static final Logger log = LoggerFactory.getLogger(IncumbentSession.class);

    private final WireChannel wire;
    private final SessionConfig config;
    private final int generation;

    public IncumbentSession(WireChannel wire, SessionConfig config, int generation) {
        this.wire = wire;
        this.config = config;
        this.generation = generation;
    }

    /** Tells a successor that another handoff is under way, in answer to its hello. */
    public static void sendBusy(WireChannel wire, Duration timeout) {
        try {
            // Read the hello first: a peer whose hello meets a closed socket never learns why.
            wire.receive(timeout, Message.Hello.class).close();
            wire.send(new Message.Busy("another handoff is in progress"));
        } catch (IOException e) {
            log.debug("could not tell a second successor that we are busy", e);
        }
    }

    /**
     * Runs the handoff. {@code snapshot} is called only once the peer is accepted, so that the manifest
     * describes the listeners as they are at that moment.
     */
    public HandoffResult run(Callable<Snapshot> snapshot) {
        long start = System.nanoTime();
        long peerPid = -1;
        int sent = 0;
        String step = "checking the peer";
        try {
            PeerCredentials peer = wire.peer();
            peerPid = peer.pid();
            step = "waiting for hello";
            Message.Hello hello;
            try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Hello.class)) {
                hello = (Message.Hello) received.message();
            }
            if (!config.allowedUids().contains(peer.uid())) {
                String reason = "peer pid " + peer.pid() + " runs as uid " + peer.uid() + ", allowed: " + config.allowedUids();
                wire.send(new Message.Refused(reason));
                return HandoffResult.of(HandoffResult.Outcome.REFUSED, reason, peerPid, start, 0);
            }
            OptionalInt version = ProtocolVersions.negotiate(hello.versions());
            if (version.isEmpty()) {
                String reason = "no common protocol version: successor speaks " + hello.versions() + ", we speak "
                        + ProtocolVersions.SUPPORTED;
                wire.send(new Message.Refused(reason));
                return HandoffResult.of(HandoffResult.Outcome.REFUSED, reason, peerPid, start, 0);
            }
            wire.fdChannel().limitSendBatch(hello.maxFdsPerMessage());
            wire.send(new Message.Welcome(version.getAsInt(), ProcessHandle.current().pid(), generation,
                    FdChannel.maxFdsPerMessage(), List.of()));
            step = "sending the manifest";
            Snapshot handover = snapshot.call();
            wire.send(new Message.Handover(ManifestJson.toTree(handover.manifest())), handover.fds());
            sent = handover.fds().size();
            step = "waiting for READY";
            Message answer;
            try (WireChannel.Received<Message> received = wire.receive(config.readyTimeout(), Message.Ready.class,
                    Message.Failed.class)) {
                answer = received.message();
            }
            if (answer instanceof Message.Failed failed) {
                return HandoffResult.of(HandoffResult.Outcome.FAILED, "successor failed: " + failed.reason(), peerPid,
                        start, sent);
            }
            HandoffResult ready = HandoffResult.of(HandoffResult.Outcome.SUCCEEDED, "ok", peerPid, start, sent);
            step = "probation";
            String probationFailure = watchProbation();
            if (probationFailure != null) {
                return HandoffResult.of(HandoffResult.Outcome.FAILED, probationFailure, peerPid, start, sent);
            }
            return ready;
        } catch (FdChannelException e) {
            return HandoffResult.of(HandoffResult.Outcome.FAILED, step + ": " + describe(e), peerPid, start, sent);
        } catch (Exception e) {
            return HandoffResult.of(HandoffResult.Outcome.FAILED, step + ": " + e, peerPid, start, sent);
        }
    }

    /** Null if the successor is still there after the probation period, else what happened. */
    private String watchProbation() throws IOException {
        Duration probation = config.probation();
        if (probation.isZero() || probation.isNegative()) {
            return null;
        }
        try {
            wire.fdChannel().receive(probation).close();
            return "successor sent an unexpected message during probation";
        } catch (FdChannelException e) {
            if (e.kind() == FdChannelException.Kind.TIMEOUT) {
                return null;
            }
            return "successor went away during probation (" + e.getMessage() + ")";
        }
    }

    private static String describe(FdChannelException e) {
        return switch (e.kind()) {
            case CLOSED, SHORT_READ -> "successor closed the connection: " + e.getMessage();
            case TIMEOUT -> "successor timed out: " + e.getMessage();
            default -> e.getMessage();
        };
    }
}
