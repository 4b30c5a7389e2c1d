import assert from "node:assert/strict";
import { budgetHolder } from "../../src/server/runtime.ts";

Deno.test("budgetHolder() names a key's, a user's and a team's budget in log lines", () => {
  assert.equal(budgetHolder("team-a"), "Key 'team-a'");
  assert.equal(budgetHolder("user:alice"), "User 'alice'");
  assert.equal(budgetHolder("team:core"), "Team 'core'");
});
