package dev.handoff.sample;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.session.HandoffResult;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A line echo server on the public Handoff API: every line a client sends is answered with
 * {@code <pid> <line>}. Started again with the same arguments, the new copy takes the listener over
 * and this one exits once its connections are done.
 */
final class SampleServer {

    private SampleServer() {
    }

    static void run(String[] args) throws Exception {
        InetSocketAddress echo = null;
        Path socket = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--echo" -> echo = address(args[++i]);
                case "--socket" -> socket = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: --echo host:port --socket path | demo [restarts]");
            }
        }
        if (echo == null || socket == null) {
            throw new IllegalArgumentException("usage: --echo host:port --socket path | demo [restarts]");
        }
        Handoff handoff = Handoff.start(HandoffOptions.builder(socket).build());
        ServerSocketChannel listener = handoff.listen("echo", echo);
        ExecutorService connections = Executors.newCachedThreadPool();
        Thread acceptor = new Thread(() -> accept(listener, connections), "echo-accept");
        acceptor.start();
        handoff.ready();
        System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation=" + handoff.generation());
        HandoffResult result = awaitSuccessor(handoff);
        listener.close();
        acceptor.join();
        connections.shutdown();
        connections.awaitTermination(30, TimeUnit.SECONDS);
        handoff.close();
        System.out.println("EXIT pid=" + ProcessHandle.current().pid() + " handed over to pid " + result.peerPid()
                + " in " + String.format("%.2f", result.duration().toNanos() / 1e6) + " ms");
        System.exit(0);
    }

    private static HandoffResult awaitSuccessor(Handoff handoff) throws InterruptedException {
        handoff.awaitExit();
        return handoff.lastHandoff().orElseThrow();
    }

    private static void accept(ServerSocketChannel listener, ExecutorService connections) {
        while (listener.isOpen()) {
            try {
                SocketChannel connection = listener.accept();
                connections.execute(() -> echo(connection.socket()));
            } catch (IOException e) {
                if (listener.isOpen()) {
                    System.err.println("accept failed: " + e);
                }
            }
        }
    }

    private static void echo(Socket connection) {
        String pid = Long.toString(ProcessHandle.current().pid());
        try (connection;
             BufferedReader in = new BufferedReader(new InputStreamReader(connection.getInputStream(), StandardCharsets.UTF_8))) {
            OutputStream out = connection.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                out.write((pid + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            System.err.println("connection failed: " + e);
        }
    }

    static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    static List<String> command(String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-jar");
        command.add(jarPath());
        command.addAll(List.of(args));
        return command;
    }

    private static String jarPath() {
        try {
            return Path.of(SampleServer.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
