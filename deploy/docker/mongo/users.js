// Runs once, when MongoDB's data directory is first initialised (the official image's entrypoint runs
// /docker-entrypoint-initdb.d as the root user of MONGO_INITDB_ROOT_USERNAME). One user per service,
// with its own password from .env, allowed to read and write its own database and nothing else.
const services = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"];
const admin = db.getSiblingDB("admin");
for (const service of services) {
  const user = "svc-" + service.replaceAll("_", "-");
  const password = process.env["ALLIANCE_STORE_PW_" + user.toUpperCase().replaceAll("-", "_")];
  if (!password) throw new Error("no password for " + user + ": run make compose-env");
  admin.createUser({ user: user, pwd: password, roles: [{ role: "readWrite", db: "alliance_" + service }] });
}
