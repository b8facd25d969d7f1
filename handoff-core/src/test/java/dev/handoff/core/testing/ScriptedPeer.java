package dev.handoff.core.testing;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.Lifeline;
import dev.handoff.core.manifest.ListenerEntry;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.session.Fault;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One side of a handoff played by hand (protocol version 2, with a lifeline), which walks to a given state
 * of the other side's state machine and there commits a given {@link Fault}: {@code TIMEOUT} (it stalls),
 * {@code PEER_DIED} (it halts), {@code MALFORMED} (a frame that is not JSON), {@code UNEXPECTED} (a
 * well-formed message the state does not expect). It serves the listener ({@code <pid> 0 0} per
 * connection) exactly while the protocol says it owns it, and prints {@code AT <state>} before the fault.
 *
 * <p>Arguments: {@code successor socket state fault} (the states of {@code IncumbentState} it can reach:
 * AWAIT_HELLO, AWAIT_READY, PROBATION), or {@code incumbent socket port state fault} (the states of
 * {@code SuccessorState}: AWAIT_WELCOME, AWAIT_MANIFEST, AWAIT_CONFIRM, RECEIVING).
 */
public final class ScriptedPeer {

    private static final Duration STEP = Duration.ofSeconds(30);

    public static void main(String[] args) throws Exception {
        // Its first messages must not wait for class loading on a busy machine: the other side's step timeout is short.
        WireChannel.warmUp();
        FdChannel.warmUp();
        if (args[0].equals("successor")) {
            successor(Path.of(args[1]), args[2], Fault.valueOf(args[3]));
        } else {
            incumbent(Path.of(args[1]), Integer.parseInt(args[2]), args[3], Fault.valueOf(args[4]));
        }
    }

    private static void successor(Path socket, String state, Fault fault) throws Exception {
        WireChannel wire = new WireChannel(FdChannel.connect(socket, FdLimits.DEFAULT));
        Lifeline lifeline = Lifeline.create();
        at("AWAIT_HELLO", state, fault, wire);
        wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(), FdChannel.maxFdsPerMessage(),
                List.of(Message.LIFELINE), null, 0), List.of(lifeline.peerEnd()));
        wire.receive(STEP, Message.Welcome.class).close();
        ServerSocketChannel listener;
        try (WireChannel.Received<Message> manifest = wire.receive(STEP, Message.Handover.class)) {
            listener = Channels.serverSocketChannel(manifest.fds().take(0));
        }
        at("AWAIT_READY", state, fault, wire);
        wire.send(new Message.Ready(ProcessHandle.current().pid(), List.of()));
        wire.receive(STEP, Message.Confirmed.class).close();
        serve(listener); // confirmed: this process serves from now on, whatever it does on the channel
        at("PROBATION", state, fault, wire);
        Thread.sleep(Long.MAX_VALUE);
    }

    private static void incumbent(Path socket, int port, String state, Fault fault) throws Exception {
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET)
                .bind(new InetSocketAddress("127.0.0.1", port));
        Thread server = serve(listener);
        FdServer rendezvous = FdServer.bind(socket, FdLimits.DEFAULT);
        Lifeline lifeline = Lifeline.create();
        int bound = ((InetSocketAddress) listener.getLocalAddress()).getPort(); // the kernel's, when asked for 0
        System.out.println("PORT " + bound);
        System.out.println("LISTENING");
        WireChannel wire = new WireChannel(rendezvous.accept());
        wire.receive(STEP, Message.Hello.class).close();
        at("AWAIT_WELCOME", state, fault, wire);
        wire.send(new Message.Welcome(ProtocolVersions.CONFIRMED_READY, ProcessHandle.current().pid(), 1,
                FdChannel.maxFdsPerMessage(), List.of(Message.LIFELINE), null, null, 0), List.of(lifeline.peerEnd()));
        at("AWAIT_MANIFEST", state, fault, wire);
        Manifest manifest = new Manifest(Manifest.SCHEMA, ProcessHandle.current().pid(), 1, List.of(new ListenerEntry(
                "main", ListenerEntry.Protocol.TCP, "INET", "127.0.0.1", bound, 0, Map.of())), List.of(), null);
        wire.send(new Message.Handover(ManifestJson.toTree(manifest)), List.of(Channels.fileDescriptor(listener)));
        wire.receive(STEP, Message.Ready.class).close();
        at("AWAIT_CONFIRM", state, fault, wire);
        wire.send(new Message.Confirmed(1000)); // its drain lasts a second: the successor receives that long, and a step
        listener.close(); // confirmed: the successor serves, this process no longer accepts
        server.join();
        at("RECEIVING", state, fault, wire);
        Thread.sleep(Long.MAX_VALUE);
    }

    /** At {@code here}, if it is the state to fault in: commits the fault and stays (or dies). */
    private static void at(String here, String state, Fault fault, WireChannel wire) throws Exception {
        if (!here.equals(state)) {
            return;
        }
        System.out.println("AT " + here);
        switch (fault) {
            case PEER_DIED -> Runtime.getRuntime().halt(0);
            case MALFORMED -> wire.fdChannel().send("{not json".getBytes(StandardCharsets.US_ASCII));
            case UNEXPECTED -> wire.send(new Message.Proof("a message no state of this walk expects"));
            default -> {
                // TIMEOUT: say nothing at all
            }
        }
        Thread.sleep(Long.MAX_VALUE);
    }

    private static Thread serve(ServerSocketChannel listener) {
        Thread thread = new Thread(() -> {
            byte[] line = (ProcessHandle.current().pid() + " 0 0\n").getBytes(StandardCharsets.US_ASCII);
            while (listener.isOpen()) {
                try (SocketChannel connection = listener.accept()) {
                    connection.write(ByteBuffer.wrap(line));
                } catch (IOException e) {
                    // closed: this process no longer serves
                }
            }
        }, "scripted-serve");
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
