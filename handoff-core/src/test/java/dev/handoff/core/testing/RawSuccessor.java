package dev.handoff.core.testing;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.Lifeline;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A successor that speaks the protocol by hand and stops at a given step, printing {@code AT <step>},
 * so that a test can kill it there. Steps: connect, hello, manifest, ready, connections (READY saying it
 * adopts connections, then stopped as the first batch arrives, before it answers).
 */
public final class RawSuccessor {

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        String stopAt = args[1];
        WireChannel wire = new WireChannel(FdChannel.connect(socket, FdLimits.DEFAULT));
        pause("connect", stopAt);
        Lifeline lifeline = Lifeline.create(); // held until this process dies: the incumbent sees it go
        wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(),
                FdChannel.maxFdsPerMessage(), List.of(Message.LIFELINE), null, 0), List.of(lifeline.peerEnd()));
        int version;
        try (WireChannel.Received<Message> welcome = wire.receive(Duration.ofSeconds(10), Message.Welcome.class)) {
            version = ((Message.Welcome) welcome.message()).version();
        }
        pause("hello", stopAt);
        WireChannel.Received<Message> manifest = wire.receive(Duration.ofSeconds(10), Message.Handover.class);
        manifest.fds().takeAll(); // hold them, as a real successor would, until killed
        pause("manifest", stopAt);
        boolean adopts = stopAt.equals("connections");
        wire.send(new Message.Ready(ProcessHandle.current().pid(), adopts ? List.of(Message.CONNECTIONS) : List.of()));
        if (version >= ProtocolVersions.CONFIRMED_READY) {
            wire.receive(Duration.ofSeconds(10), Message.Confirmed.class).close();
        }
        pause("ready", stopAt);
        if (adopts) {
            WireChannel.Received<Message> batch = wire.receive(Duration.ZERO, Message.Connections.class);
            batch.fds().takeAll();
            pause("connections", stopAt);
        }
    }

    private static void pause(String step, String stopAt) throws InterruptedException {
        if (step.equals(stopAt)) {
            System.out.println("AT " + step);
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
