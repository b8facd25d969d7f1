package dev.handoff.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The client ends of the benchmark's connections, in a process of their own (one process may not hold
 * both ends of 10,000 connections and the successor's copies within the 20,000-descriptor limit). Reads
 * commands on stdin: {@code connect <port> <n>} answers {@code connected <n>}; {@code close} answers
 * {@code closed}.
 */
public final class ClientHolder {

    private ClientHolder() {
    }

    public static void main(String[] args) throws IOException {
        List<SocketChannel> clients = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        String line;
        while ((line = in.readLine()) != null) {
            String[] command = line.split(" ");
            if (command[0].equals("connect")) {
                InetSocketAddress target = new InetSocketAddress("127.0.0.1", Integer.parseInt(command[1]));
                for (int i = Integer.parseInt(command[2]); i > 0; i--) {
                    clients.add(SocketChannel.open(target));
                }
                System.out.println("connected " + clients.size());
            } else if (command[0].equals("close")) {
                for (SocketChannel client : clients) {
                    client.close();
                }
                clients.clear();
                System.out.println("closed");
            }
        }
    }
}
