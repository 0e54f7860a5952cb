// Test driver for server/tests/persist_compat.rs: drives a ZooKeeper server with Java's own
// client and dumps what the client sees. Compiled by the test with javac against the jars of
// the Java server under test (Debian's 3.8.0 or 3.9.3); with 3.9's client it also sends
// create2 inside multis.
//
//   java ZkDriver populate HOST:PORT DUMPFILE NODES   write a varied tree, dump it, print READY,
//                                                    then keep the sessions open until stdin ends
//                                                    (and close them then)
//   java ZkDriver dump HOST:PORT DUMPFILE            dump only
//   java ZkDriver more HOST:PORT COUNT [PARENT]      COUNT sequential children of PARENT
//                                                    (default /java-again), then exit
//
// Dump lines (tab-separated, base64 where a value may contain anything):
//   N path64 czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength
//     numChildren pzxid data64|- acl   (acl = perms,scheme,id64 joined by ';')
//   S sessionIdHex timeout            (the driver's live sessions)

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.*;
import org.apache.zookeeper.data.*;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class ZkDriver {
    static ZooKeeper connect(String hp) throws Exception {
        CountDownLatch l = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hp, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                l.countDown();
            }
        });
        if (!l.await(30, TimeUnit.SECONDS)) {
            throw new RuntimeException("could not connect to " + hp);
        }
        return zk;
    }

    static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    static void dump(ZooKeeper zk, String path, PrintWriter out) throws Exception {
        Stat s = new Stat();
        byte[] data = zk.getData(path, false, s);
        List<ACL> acl = zk.getACL(path, new Stat());
        StringBuilder a = new StringBuilder();
        for (ACL x : acl) {
            if (a.length() > 0) {
                a.append(';');
            }
            a.append(x.getPerms()).append(',').append(x.getId().getScheme()).append(',')
                .append(b64(x.getId().getId().getBytes(StandardCharsets.UTF_8)));
        }
        out.println("N\t" + b64(path.getBytes(StandardCharsets.UTF_8)) + "\t" + s.getCzxid() + "\t"
            + s.getMzxid() + "\t" + s.getCtime() + "\t" + s.getMtime() + "\t" + s.getVersion() + "\t"
            + s.getCversion() + "\t" + s.getAversion() + "\t" + s.getEphemeralOwner() + "\t"
            + s.getDataLength() + "\t" + s.getNumChildren() + "\t" + s.getPzxid() + "\t"
            + (data == null ? "-" : b64(data)) + "\t" + a);
        for (String c : zk.getChildren(path, false)) {
            dump(zk, path.equals("/") ? "/" + c : path + "/" + c, out);
        }
    }

    static byte[] data(Random r, int i) {
        switch (i % 6) {
            case 0: return null;
            case 1: return new byte[0];
            case 2: return ("value-" + i).getBytes(StandardCharsets.UTF_8);
            case 3: { byte[] b = new byte[r.nextInt(4096)]; r.nextBytes(b); return b; }
            case 4: return ("ünïcødé-" + i + "-€").getBytes(StandardCharsets.UTF_8);
            default: { byte[] b = new byte[r.nextInt(64)]; r.nextBytes(b); return b; }
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String hp = args[1];
        if (mode.equals("dump")) {
            ZooKeeper zk = connect(hp);
            zk.addAuthInfo("digest", "alice:secret".getBytes());
            try (PrintWriter out = new PrintWriter(new FileWriter(args[2]))) {
                dump(zk, "/", out);
            }
            zk.close();
            return;
        }
        if (mode.equals("more")) {
            ZooKeeper zk = connect(hp);
            int n = Integer.parseInt(args[2]);
            String parent = args.length > 3 ? args[3] : "/java-again";
            zk.create(parent, "back".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            for (int i = 0; i < n; i++) {
                zk.create(parent + "/n", ("x" + i).getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE,
                    CreateMode.PERSISTENT_SEQUENTIAL);
            }
            zk.close();
            return;
        }
        int nodes = Integer.parseInt(args[3]);
        Random r = new Random(42);
        ZooKeeper zk = connect(hp);
        zk.addAuthInfo("digest", "alice:secret".getBytes());
        List<ACL> digestAcl = Collections.singletonList(new ACL(ZooDefs.Perms.ALL,
            new Id("digest", DigestAuthenticationProvider.generateDigest("alice:secret"))));
        List<ACL> mixedAcl = new ArrayList<>();
        mixedAcl.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        mixedAcl.add(new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1")));
        mixedAcl.add(new ACL(ZooDefs.Perms.ALL,
            new Id("digest", DigestAuthenticationProvider.generateDigest("bob:pw"))));

        zk.create("/app", "root of app".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/seq", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/secure", "s".getBytes(), digestAcl, CreateMode.PERSISTENT);
        zk.create("/creator", "c".getBytes(), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        zk.create("/mixed", new byte[0], mixedAcl, CreateMode.PERSISTENT);
        zk.create("/ünï", "utf8 name".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/cont", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        zk.create("/cont/child", "c".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/ttl", "t".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL,
            new Stat(), 3_600_000L);
        zk.create("/ttlseq-", "t".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE,
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 7_200_000L);

        // A session that creates ephemerals and closes (closeSession deletes them).
        ZooKeeper gone = connect(hp);
        for (int i = 0; i < 5; i++) {
            gone.create("/app/gone-" + i, null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        }
        gone.close();

        // A second live session with ephemerals.
        ZooKeeper other = connect(hp);
        for (int i = 0; i < 7; i++) {
            other.create("/app/other-eph-", ("o" + i).getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE,
                CreateMode.EPHEMERAL_SEQUENTIAL);
        }

        int made = 0;
        int dir = 0;
        while (made < nodes) {
            String d = "/app/d" + dir++;
            zk.create(d, data(r, dir), dir % 7 == 0 ? digestAcl : ZooDefs.Ids.OPEN_ACL_UNSAFE,
                CreateMode.PERSISTENT);
            made++;
            int kids = 1 + r.nextInt(40);
            for (int k = 0; k < kids && made < nodes; k++, made++) {
                String c = d + "/c" + k;
                CreateMode m = k % 11 == 0 ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT;
                zk.create(c, data(r, k), k % 5 == 0 ? mixedAcl : ZooDefs.Ids.OPEN_ACL_UNSAFE, m);
                if (k % 3 == 0) {
                    zk.setData(c, data(r, k + 1), -1);
                    zk.setData(c, data(r, k + 2), -1);
                }
                if (k % 13 == 0) {
                    zk.setACL(c, digestAcl, -1);
                }
            }
            if (dir % 4 == 0) {
                // Delete some children: the parent's cversion and pzxid move.
                for (String c : zk.getChildren(d, false)) {
                    if (c.hashCode() % 3 == 0) {
                        zk.delete(d + "/" + c, -1);
                    }
                }
            }
            if (dir % 5 == 0) {
                zk.create("/seq/s-", ("seq" + dir).getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE,
                    CreateMode.PERSISTENT_SEQUENTIAL);
                zk.create("/seq/e-", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
            }
            if (dir % 9 == 0) {
                zk.multi(Arrays.asList(
                    Op.create(d + "/m1", "m".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                    Op.setData(d, "multi-set".getBytes(), -1),
                    Op.check("/app", -1),
                    Op.create(d + "/m2", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                    Op.delete(d + "/m2", -1)));
                Op create2 = create2Op(d + "/m3");
                if (create2 != null) {
                    // 3.9's client: a create2 inside a multi, logged as a type-15 sub-txn.
                    zk.multi(Arrays.asList(create2, Op.setData(d + "/m3", "m3".getBytes(), 0)));
                }
                try {
                    zk.multi(Arrays.asList(
                        Op.create(d + "/never", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                        Op.delete("/does/not/exist", -1)));
                    throw new RuntimeException("multi should fail");
                } catch (KeeperException e) {
                    // error txn in the log
                }
            }
            if (dir % 10 == 0) {
                try {
                    zk.setData("/app", new byte[1], 12345);
                } catch (KeeperException.BadVersionException e) {
                    // error txn
                }
                zk.setData("/app", ("app v" + dir).getBytes(), -1);
            }
        }
        zk.create("/cont2", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        zk.create("/cont2/x", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.delete("/cont2/x", -1);
        zk.setACL("/mixed", digestAcl, 0);

        try (PrintWriter out = new PrintWriter(new FileWriter(args[2]))) {
            dump(zk, "/", out);
            out.println("S\t" + Long.toHexString(zk.getSessionId()) + "\t" + zk.getSessionTimeout());
            out.println("S\t" + Long.toHexString(other.getSessionId()) + "\t" + other.getSessionTimeout());
        }
        System.out.println("READY");
        System.out.flush();
        // Keep both sessions open until the test is done with the server.
        while (System.in.read() != -1) {
            // wait
        }
        // Stdin closed (rather than the driver killed): end the sessions cleanly.
        other.close();
        zk.close();
    }

    /// `Op.create(path, data, CreateOptions)` (a create2 op; the client API of 3.9), by
    /// reflection so that the driver compiles against 3.8's jars too; null with 3.8's.
    static Op create2Op(String path) throws Exception {
        Class<?> options;
        try {
            options = Class.forName("org.apache.zookeeper.CreateOptions");
        } catch (ClassNotFoundException e) {
            return null;
        }
        Object builder = options.getMethod("newBuilder", List.class, CreateMode.class)
            .invoke(null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Object opts = builder.getClass().getMethod("build").invoke(builder);
        return (Op) Op.class.getMethod("create", String.class, byte[].class, options)
            .invoke(null, path, "c2".getBytes(), opts);
    }
}
