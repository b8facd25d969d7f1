package dev.handoff.sample;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.HandoffResult;
import dev.handoff.core.Takeover;
import dev.handoff.core.service.StartupPriority;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The sample server: HTTP and line echo on one event loop, on the public Handoff API. Started again
 * with the same arguments, the new copy takes the listeners and the live connections over and this one
 * exits once drained. SIGHUP makes it start that new copy itself; SIGTERM stops it gracefully.
 *
 * <p>Prints {@code READY pid=<pid> generation=<n>} when it serves and an {@code EXIT ...} line when it
 * leaves; logs go to stderr. A command line it cannot use ends it with status 64 (EX_USAGE).
 */
public final class SampleServer {

    private final ServerArguments arguments;
    private final long pid = ProcessHandle.current().pid();
    private Handoff handoff;
    private EventLoop loop;

    private SampleServer(ServerArguments arguments) {
        this.arguments = arguments;
    }

    public static void main(String[] args) throws Exception {
        try {
            new SampleServer(ServerArguments.parse(args)).serve();
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(64);
        }
    }

    private void serve() throws Exception {
        HandoffOptions options = null;
        if (arguments.mode() == ServerArguments.Mode.HANDOFF) {
            options = HandoffOptions.builder(arguments.socket())
                    .upgradeCommand(command(arguments.raw().toArray(new String[0])))
                    .drainTimeout(arguments.drain())
                    .pidFile(arguments.pidFile())
                    .startupNice(arguments.startupNice())
                    .build();
            // A successor: its warm-up too runs nicer than the incumbent serves (Handoff.ready restores it).
            StartupPriority.lowerForTakeover(options.socketPath(), options.startupNice());
        }
        Warmup.run(pid);
        if (options != null) {
            try {
                handoff = Handoff.start(options);
            } catch (IOException e) {
                System.out.println("FAILED " + e.getMessage());
                System.exit(2);
            }
        }
        int generation = handoff == null ? 1 : handoff.generation();
        loop = new EventLoop(Map.of("http", new HttpProtocol(pid, generation), "echo", new EchoProtocol(pid)));
        if (arguments.http() != null) {
            loop.listen("http", listen("http", arguments.http()));
        }
        if (arguments.echo() != null) {
            loop.listen("echo", listen("echo", arguments.echo()));
        }
        if (handoff != null) {
            handoff.onConnection(loop::adopt);
        }
        new Thread(loop, "event-loop").start();
        if (handoff != null) {
            try {
                handoff.ready();
            } catch (IOException e) {
                // The event loop already serves; without its rendezvous this copy could never hand over.
                System.out.println("FAILED " + e.getMessage());
                System.exit(2);
            }
            handoff.onExit(this::handedOver);
            if (Signal.handle(new Signal("HUP"), signal -> upgrade()) == SignalHandler.SIG_IGN) {
                // The JVM keeps a signal ignored that was ignored when it started (nohup does that).
                System.out.println("SIGHUP IGNORED pid=" + pid + ": this process was started with SIGHUP ignored "
                        + "(nohup?), so SIGHUP cannot start its successor; start the next copy yourself");
            }
            handoff.coldStartReason().ifPresent(reason -> System.out.println("COLD START pid=" + pid + ": " + reason));
        }
        Signal.handle(new Signal("TERM"), signal -> stop());
        System.out.println("READY pid=" + pid + " generation=" + generation);
    }

    private ServerSocketChannel listen(String name, InetSocketAddress address) throws IOException {
        if (handoff != null) {
            return handoff.listen(name, address);
        }
        ServerSocketChannel channel = ServerSocketChannel.open();
        channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        if (arguments.mode() == ServerArguments.Mode.REUSEPORT) {
            channel.setOption(StandardSocketOptions.SO_REUSEPORT, true);
        }
        channel.bind(address, 1024);
        return channel;
    }

    private void handedOver(Takeover takeover) {
        HandoffResult result = takeover.handoff();
        loop.drain(takeover, takeover.deadline(), report -> exit(takeover, String.format(
                "handed over to pid %d in %.2f ms; drained in %d ms: %d connections handed over, %d closed, %d cut at the deadline",
                result.peerPid(), result.duration().toNanos() / 1e6, report.took().toMillis(), report.handedOver(),
                report.closedQuiet(), report.closedAtDeadline())), () -> System.out.println("RESUMED pid=" + pid
                + " generation=" + handoff.generation() + ": the successor went away during the drain; serving again"));
    }

    private void stop() {
        if (handoff != null) {
            closeQuietly(handoff); // no successor may arrive while we stop
        }
        loop.drain(null, Instant.now().plus(arguments.drain()), report -> exit(null, String.format(
                "stopped; drained in %d ms: %d connections closed, %d cut at the deadline", report.took().toMillis(),
                report.closedQuiet(), report.closedAtDeadline())), () -> { });
    }

    private void upgrade() {
        Thread upgrade = new Thread(() -> {
            try {
                HandoffResult result = handoff.upgrade();
                System.out.println("UPGRADE " + result.outcome() + " pid=" + result.peerPid() + " " + result.reason());
            } catch (IOException | RuntimeException e) {
                System.out.println("UPGRADE FAILED " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "upgrade");
        upgrade.start();
    }

    private void exit(Takeover takeover, String what) {
        if (takeover != null) {
            takeover.done();
        }
        System.out.println("EXIT pid=" + pid + " " + what);
        System.out.flush();
        System.exit(0);
    }

    private static void closeQuietly(Handoff handoff) {
        try {
            handoff.close();
        } catch (IOException e) {
            System.err.println("closing the handoff failed: " + e);
        }
    }

    /** The command line that starts this jar with {@code args}, on the same JVM. */
    static List<String> command(String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-jar");
        command.add(jarPath());
        command.addAll(List.of(args));
        return command;
    }

    /**
     * This jar. A class loaded from a JDK 25 AOT cache made for the same jar under another path has no code
     * source location; started with {@code -jar}, the class path is the jar all the same.
     */
    private static String jarPath() {
        java.net.URL location = SampleServer.class.getProtectionDomain().getCodeSource().getLocation();
        if (location == null) {
            return System.getProperty("java.class.path");
        }
        try {
            return Path.of(location.toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
