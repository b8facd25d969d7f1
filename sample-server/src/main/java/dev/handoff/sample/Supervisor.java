package dev.handoff.sample;

import sun.misc.Signal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code supervise -- <server arguments>}: a small PID 1 for containers. When the serving process is PID 1
 * and exits after a handoff, the container dies with it; so PID 1 is this supervisor instead. It starts
 * the server, follows it from generation to generation (each generation writes its pid to the pid file
 * when it serves, whoever started it: this supervisor on SIGHUP, or {@code docker exec} with the same
 * arguments), forwards SIGTERM and SIGINT (as SIGTERM, a graceful stop) to the generation that serves,
 * turns SIGHUP into a new generation that it starts itself (so that every generation it knows of is its
 * own child, which the JDK reaps), and exits with the last generation's status.
 */
final class Supervisor {

    private final List<String> serverArgs;
    private final Path pidFile;
    private volatile Process child;
    private volatile long serving;

    private Supervisor(List<String> serverArgs, Path pidFile) {
        this.serverArgs = serverArgs;
        this.pidFile = pidFile;
    }

    static int run(String[] args) throws Exception {
        List<String> serverArgs = new ArrayList<>(List.of(args));
        if (!serverArgs.isEmpty() && serverArgs.get(0).equals("--")) {
            serverArgs.remove(0);
        }
        ServerArguments parsed = ServerArguments.parse(serverArgs.toArray(new String[0]));
        Path pidFile = parsed.pidFile();
        if (pidFile == null) {
            pidFile = parsed.socket().resolveSibling(parsed.socket().getFileName() + ".pid");
            serverArgs.addAll(List.of("--pid-file", pidFile.toString()));
        }
        return new Supervisor(serverArgs, pidFile).supervise();
    }

    private int supervise() throws Exception {
        Signal.handle(new Signal("TERM"), signal -> forward("TERM"));
        Signal.handle(new Signal("INT"), signal -> forward("INT"));
        Signal.handle(new Signal("HUP"), signal -> startGeneration());
        System.out.println("SUPERVISOR pid=" + ProcessHandle.current().pid() + " pid-file=" + pidFile);
        Process first = startGeneration();
        serving = first.pid();
        Integer lastStatus = null;
        while (true) {
            ProcessHandle current = ProcessHandle.of(serving).orElse(null);
            if (current != null) {
                current.onExit().join();
            }
            Process exited = child != null && child.pid() == serving ? child : null;
            if (exited != null) {
                lastStatus = exited.waitFor();
            }
            Optional<Long> next = successorPid();
            if (next.isEmpty()) {
                // Give a successor that is just now writing its pid file a moment.
                TimeUnit.MILLISECONDS.sleep(500);
                next = successorPid();
            }
            if (next.isEmpty()) {
                int status = lastStatus == null ? 0 : lastStatus;
                System.out.println("SUPERVISOR exits with the last generation's status " + status);
                return status;
            }
            System.out.println("SUPERVISOR follows pid " + next.get());
            serving = next.get();
        }
    }

    /** Starts a new generation as this process's child; it takes over from the serving one by itself. */
    private synchronized Process startGeneration() {
        try {
            Process process = new ProcessBuilder(SampleServer.command(serverArgs.toArray(new String[0]))).inheritIO().start();
            child = process; // the JDK waits for (reaps) every process it starts
            return process;
        } catch (IOException e) {
            System.out.println("SUPERVISOR could not start a generation: " + e);
            return child;
        }
    }

    /** SIGTERM (the JDK's destroy) to the serving generation: a graceful stop, for TERM and INT alike. */
    private void forward(String signal) {
        System.out.println("SUPERVISOR forwards SIG" + signal + " to pid " + serving + " as SIGTERM");
        ProcessHandle.of(serving).ifPresent(ProcessHandle::destroy);
    }

    /** The live process the pid file names, if it is not the one followed so far. */
    private Optional<Long> successorPid() {
        return servingPid().filter(pid -> pid != serving && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    }

    private Optional<Long> servingPid() {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile, StandardCharsets.US_ASCII).trim()));
        } catch (IOException | NumberFormatException e) { // none written yet
            return Optional.empty();
        }
    }
}
