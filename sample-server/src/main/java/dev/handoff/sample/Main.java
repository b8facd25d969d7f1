package dev.handoff.sample;

import java.util.Arrays;

/**
 * {@code java -jar sample-server.jar --http host:port --echo host:port --socket path}, or
 * {@code demo [restarts]}, {@code compare [options]}, {@code supervise -- <server arguments>}, or {@code hold}.
 */
public final class Main {

    public static void main(String[] args) throws Exception {
        String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
        try {
            if (args.length > 0 && args[0].equals("demo")) {
                System.exit(Demo.run(rest));
            }
            if (args.length > 0 && args[0].equals("hold")) {
                // A holder container: owns the network namespace (and the published ports) that each
                // version's container joins; it only has to stay up.
                System.out.println("HOLDING pid=" + ProcessHandle.current().pid());
                Thread.sleep(Long.MAX_VALUE);
            }
            if (args.length > 0 && args[0].equals("supervise")) {
                System.exit(Supervisor.run(rest));
            }
            if (args.length > 0 && args[0].equals("compare")) {
                System.exit(RestartComparison.run(rest));
            }
            SampleServer.run(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(64);
        }
    }

    private Main() {
    }
}
