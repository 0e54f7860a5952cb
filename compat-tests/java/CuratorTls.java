// Curator over a secured client connection (TLS with a client certificate, SASL, or both),
// against one ZooKeeper server (Java 3.8 / 3.9 or zk-rs).
//
//   javac -cp CP -d OUT CuratorTls.java
//   java  -cp OUT:CP [security properties] CuratorTls 127.0.0.1:PORT basePath ID...
//
// The security comes from the JVM's properties, as an application sets them:
// zookeeper.client.secure=true, zookeeper.clientCnxnSocket=...ClientCnxnSocketNetty and
// zookeeper.ssl.keyStore.* / trustStore.* for TLS, java.security.auth.login.config (a JAAS
// file with a Client section) for SASL. Each ID ("scheme:id") is one identity the session
// must end up with: an `auth` ACL must expand to exactly them, and a node whose ACL names
// one of them must be readable. Prints "OK <check>" or "FAIL <check>: <reason>" per check,
// then "DONE <ok>/<total>"; exits 1 if any check failed.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public class CuratorTls {
    static String connect;
    static String base;
    static int failures = 0;
    static int total = 0;
    static final List<CuratorFramework> clients = new ArrayList<>();

    interface Check {
        void run() throws Exception;
    }

    static void require(boolean cond, String fmt, Object... args) {
        if (!cond) {
            throw new IllegalStateException(String.format(fmt, args));
        }
    }

    static void check(String name, Check body) {
        total++;
        try {
            body.run();
            System.out.println("OK " + name);
        } catch (Throwable e) {
            failures++;
            System.out.println("FAIL " + name + ": " + e);
        }
        System.out.flush();
    }

    static CuratorFramework newClient() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(15000)
                .connectionTimeoutMs(8000)
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        clients.add(c);
        c.start();
        require(c.blockUntilConnected(15, TimeUnit.SECONDS), "not connected within 15 s");
        return c;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        connect = args[0];
        base = args[1];
        List<String> ids = Arrays.asList(args).subList(2, args.length);
        CuratorFramework[] c = new CuratorFramework[2];

        check("connect", () -> {
            c[0] = newClient();
            c[1] = newClient();
            c[0].create().forPath(base);
        });
        check("create-get-set", () -> {
            c[0].create().forPath(base + "/n", bytes("v1"));
            require(text(c[1].getData().forPath(base + "/n")).equals("v1"), "get after create");
            Stat st = c[1].setData().withVersion(0).forPath(base + "/n", bytes("v2"));
            require(st.getVersion() == 1, "version %d after one set", st.getVersion());
            require(text(c[0].getData().forPath(base + "/n")).equals("v2"), "get after set");
        });
        check("watch", () -> {
            BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
            CuratorWatcher w = events::add;
            c[0].getData().usingWatcher(w).forPath(base + "/n");
            c[1].setData().forPath(base + "/n", bytes("v3"));
            WatchedEvent e = events.poll(10, TimeUnit.SECONDS);
            require(e != null, "no event within 10 s");
            require(e.getType() == Watcher.Event.EventType.NodeDataChanged
                    && e.getPath().equals(base + "/n"), "event %s", e);
        });
        check("ephemeral", () -> {
            CuratorFramework owner = newClient();
            owner.create().withMode(CreateMode.EPHEMERAL).forPath(base + "/eph");
            require(c[0].checkExists().forPath(base + "/eph").getEphemeralOwner()
                    == owner.getZookeeperClient().getZooKeeper().getSessionId(), "owner");
            owner.close();
            long deadline = System.currentTimeMillis() + 10000;
            while (c[0].checkExists().forPath(base + "/eph") != null) {
                require(System.currentTimeMillis() < deadline, "still there 10 s after close");
                Thread.sleep(50);
            }
        });
        check("lock", () -> {
            InterProcessMutex a = new InterProcessMutex(c[0], base + "/lock");
            InterProcessMutex b = new InterProcessMutex(c[1], base + "/lock");
            require(a.acquire(10, TimeUnit.SECONDS), "first acquire");
            require(!b.acquire(500, TimeUnit.MILLISECONDS), "second holder while held");
            a.release();
            require(b.acquire(10, TimeUnit.SECONDS), "acquire after release");
            b.release();
        });
        check("auth-acl-ids", () -> {
            c[0].create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(base + "/auth", bytes("a"));
            TreeSet<String> got = new TreeSet<>();
            for (ACL acl : c[0].getACL().forPath(base + "/auth")) {
                got.add(acl.getId().getScheme() + ":" + acl.getId().getId());
            }
            require(got.equals(new TreeSet<>(ids)), "auth ACL expands to %s, want %s", got, ids);
            System.out.println("IDS " + String.join(" | ", got));
        });
        for (String id : ids) {
            String scheme = id.substring(0, id.indexOf(':'));
            check("acl-" + scheme, () -> {
                Id who = new Id(scheme, id.substring(scheme.length() + 1));
                String path = base + "/only-" + scheme;
                c[0].create().withACL(List.of(new ACL(ZooDefs.Perms.ALL, who))).forPath(path, bytes("s"));
                require(text(c[1].getData().forPath(path)).equals("s"), "read by the same identity");
                c[1].setData().forPath(path, bytes("t"));
            });
        }
        for (CuratorFramework cl : clients) {
            cl.close();
        }
        System.out.println("DONE " + (total - failures) + "/" + total);
        System.exit(failures == 0 ? 0 : 1);
    }
}
