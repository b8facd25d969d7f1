package dev.handoff.core.testing;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.HandoffRejectedException;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.HandoffResult;
import dev.handoff.core.Takeover;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * A minimal server on the public API, run as a real child process by the tests. Each connection gets one
 * line, {@code <pid> <generation> <open fds>}, and is closed. Prints {@code READY pid=.. generation=..},
 * {@code HANDOFF <outcome> <reason>} after each handoff attempt, {@code UPGRADE ...}, and {@code EXIT};
 * before READY, {@code START inherited} or {@code START cold <reason>}, then {@code PORT <port>} (port 0
 * binds one the kernel chooses; a successor given 0 inherits whatever port its predecessor has). With {@code --adopt} it adopts
 * handed-over connections and writes {@code ADOPTED <pid>} on each; with {@code --linger-ms} it waits that
 * long after being taken over before it says goodbye (a long drain).
 *
 * <p>Arguments: socket-path port [--probation-ms N] [--step-timeout-ms N] [--ready-timeout-ms N]
 * [--allow-uid N] [--secret-file F] [--adopt] [--ready-after-ms N] [--linger-ms N] [--upgrade-after-ms N]
 * [--busy-timeout-ms N] [--upgrade-timeout-ms N] [--upgrade-command-prefix CMD...--]. A READY the
 * predecessor does not confirm prints {@code WITHDRAWN <reason>} and exits with 4.
 */
public final class ServerChild {

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        List<String> rest = Arrays.asList(args).subList(2, args.length);
        HandoffOptions.Builder options = HandoffOptions.builder(socket)
                .stepTimeout(Duration.ofMillis(option(rest, "--step-timeout-ms", 5000)))
                .readyTimeout(Duration.ofMillis(option(rest, "--ready-timeout-ms", 20000)))
                .probation(Duration.ofMillis(option(rest, "--probation-ms", 200)))
                .upgradeTimeout(Duration.ofMillis(option(rest, "--upgrade-timeout-ms", 60_000)))
                .busyTimeout(Duration.ofMillis(option(rest, "--busy-timeout-ms", 60_000)))
                .upgradeCommand(upgradeCommand(args));
        long allowUid = option(rest, "--allow-uid", -1);
        if (allowUid >= 0) {
            options.allowedPeerUids(Set.of(allowUid));
        }
        int secretFile = rest.indexOf("--secret-file");
        if (secretFile >= 0) {
            options.sharedSecretFile(Path.of(rest.get(secretFile + 1)));
        }
        Handoff handoff;
        try {
            handoff = Handoff.start(options.build());
        } catch (IOException e) {
            System.out.println("FAILED " + e.getMessage());
            System.exit(3);
            return;
        }
        System.out.println(handoff.coldStartReason().map(reason -> "START cold " + reason).orElse("START inherited"));
        handoff.onHandoff(ServerChild::report);
        if (rest.contains("--adopt")) {
            handoff.onConnection(ServerChild::adopt);
        }
        ServerSocketChannel listener = handoff.listen("main", new InetSocketAddress("127.0.0.1", port));
        System.out.println("PORT " + ((InetSocketAddress) listener.getLocalAddress()).getPort());
        Thread server = new Thread(() -> serve(listener, handoff.generation()), "serve");
        server.start();
        Thread.sleep(option(rest, "--ready-after-ms", 0));
        try {
            handoff.ready();
        } catch (HandoffRejectedException e) {
            System.out.println("WITHDRAWN " + e.getMessage());
            server.join(); // the listener was closed under it
            System.exit(4);
            return;
        }
        System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation=" + handoff.generation());
        long upgradeAfter = option(rest, "--upgrade-after-ms", -1);
        if (upgradeAfter >= 0) {
            Thread.sleep(upgradeAfter);
            HandoffResult result = handoff.upgrade();
            System.out.println("UPGRADE " + result.outcome() + " " + result.reason());
        }
        Takeover takeover = handoff.awaitExit();
        listener.close();
        server.join();
        Thread.sleep(option(rest, "--linger-ms", 0));
        takeover.done();
        System.out.println("EXIT");
        System.exit(0);
    }

    private static void report(HandoffResult result) {
        System.out.println("HANDOFF " + result.outcome() + " " + result.reason());
    }

    private static void adopt(Connection connection) {
        try (SocketChannel channel = connection.channel()) {
            channel.write(ByteBuffer.wrap(("ADOPTED " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException e) {
            e.printStackTrace();
        }
    }

    private static void serve(ServerSocketChannel listener, int generation) {
        while (listener.isOpen()) {
            try (SocketChannel connection = listener.accept()) {
                String line = ProcessHandle.current().pid() + " " + generation + " " + Fds.openCount() + "\n";
                connection.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII)));
            } catch (IOException e) {
                if (listener.isOpen()) {
                    e.printStackTrace();
                }
            }
        }
    }

    /**
     * This process's own command for the successor, less the upgrade trigger; {@code --successor-ready-after-ms}
     * becomes the successor's {@code --ready-after-ms}, and with {@code --upgrade-via-shell} a shell starts
     * it in the background and waits (a wrapper whose child is the real successor).
     */
    private static List<String> upgradeCommand(String[] args) {
        List<String> own = new ArrayList<>();
        boolean viaShell = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--upgrade-after-ms", "--ready-after-ms" -> i++;
                case "--successor-ready-after-ms" -> own.add("--ready-after-ms");
                case "--upgrade-via-shell" -> viaShell = true;
                default -> own.add(args[i]);
            }
        }
        List<String> command = JavaChild.command(ServerChild.class, own.toArray(new String[0]));
        if (!viaShell) {
            return command;
        }
        StringBuilder script = new StringBuilder();
        for (String word : command) {
            script.append('\'').append(word.replace("'", "'\\''")).append("' ");
        }
        return List.of("sh", "-c", script + "& wait");
    }

    private static long option(List<String> args, String name, long fallback) {
        int index = args.indexOf(name);
        return index < 0 ? fallback : Long.parseLong(args.get(index + 1));
    }
}
