package io.sluice.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A loopback TCP forwarder to a local port, for tests: {@link #cutAll()} breaks every connection
 * through it at once, as a network failure would, while the server behind it (a broker, or a
 * database) keeps running; {@link #holdAnswers()} stops forwarding what the server sends until
 * {@link #release()}.
 * One virtual thread accepts; two per connection copy bytes.
 */
public final class TcpProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final int targetPort;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    private boolean holding;   // guarded by lock

    public TcpProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name("proxy-accept").start(this::accept);
    }

    public int port() {
        return listener.getLocalPort();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                sockets.add(client);
                sockets.add(upstream);
                Thread.ofVirtual().start(() -> pump(client, upstream, false));
                Thread.ofVirtual().start(() -> pump(upstream, client, true));
            } catch (IOException e) {
                return;   // closed
            }
        }
    }

    private void pump(Socket from, Socket to, boolean answers) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (answers) {
                    awaitRelease();
                }
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            // the connection was cut
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            close(from);
            close(to);
        }
    }

    /** Holds back everything the broker sends, on every connection, until {@link #release()}. */
    public void holdAnswers() {
        lock.lock();
        try {
            holding = true;
        } finally {
            lock.unlock();
        }
    }

    /** Forwards what the broker sends again, what was held back first. */
    public void release() {
        lock.lock();
        try {
            holding = false;
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void awaitRelease() throws InterruptedException {
        lock.lock();
        try {
            while (holding) {
                released.await();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Refuses new connections from now on (the port is closed); open ones go on. */
    public void refuseNew() throws IOException {
        listener.close();
    }

    /** Resets every open connection; new connections are still accepted. */
    public void cutAll() {
        for (Socket s : Set.copyOf(sockets)) {
            try {
                s.setSoLinger(true, 0);   // RST, not a polite FIN
            } catch (IOException e) {
                // already closed
            }
            close(s);
        }
    }

    private void close(Socket s) {
        sockets.remove(s);
        try {
            s.close();
        } catch (IOException e) {
            // nothing left to do
        }
    }

    @Override
    public void close() throws IOException {
        release();
        refuseNew();
        cutAll();
    }
}
