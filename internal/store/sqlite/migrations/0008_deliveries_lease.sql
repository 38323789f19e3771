-- One index of leased deliveries instead of two. deliveries_lease_owner
-- (lease_owner) and deliveries_lease_until (lease_until) were both
-- written on every lease taken and every lease given back: on the direct
-- path that is every delivery, leased as it is enqueued and released as
-- its attempt is recorded. deliveries_lease (lease_owner, lease_until)
-- serves both uses: the leases of one owner (to extend or release them,
-- and the loose index scan that lists the owners), and the leases that ran
-- out, which a claim now reads one owner at a time (there are a few
-- owners, one per node) as a range of lease_until each.
CREATE INDEX deliveries_lease ON deliveries (lease_owner, lease_until)
	WHERE lease_owner IS NOT NULL;
DROP INDEX deliveries_lease_owner;
DROP INDEX deliveries_lease_until;
