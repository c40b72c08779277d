<?php
/**
 * The scheduled pass: re-read the invoices of this gateway's unsettled orders, so a lost callback heals.
 *
 * Runs every five minutes through Action Scheduler (which WooCommerce ships since 3.5):
 * `as_schedule_recurring_action` once, checked with `as_next_scheduled_action`. Each run takes the
 * gateway's orders that are pending, on-hold, failed or cancelled, created in the last few days
 * (filter `relay_payments_sync_days`, default 3: the relay's monitoring window is a day by
 * default), re-reads each of their invoices not yet seen settled or invalid (final), and applies them exactly
 * as a callback would (Relay_Payments_Orders::apply).
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * The recurring re-read of open invoices.
 */
class Relay_Payments_Sync {

	const HOOK     = 'relay_payments_sync';
	const GROUP    = 'relay-payments';
	const INTERVAL = 300;
	const BATCH    = 50;

	/**
	 * Schedule the recurring action if it is not scheduled yet (hooked on `init`).
	 */
	public static function schedule() {
		if ( ! function_exists( 'as_next_scheduled_action' ) || ! function_exists( 'as_schedule_recurring_action' ) ) {
			return;
		}
		if ( false === as_next_scheduled_action( self::HOOK, array(), self::GROUP ) ) {
			as_schedule_recurring_action( time() + self::INTERVAL, self::INTERVAL, self::HOOK, array(), self::GROUP );
		}
	}

	/**
	 * Remove the recurring action (plugin deactivation).
	 */
	public static function unschedule() {
		if ( function_exists( 'as_unschedule_all_actions' ) ) {
			as_unschedule_all_actions( self::HOOK, array(), self::GROUP );
		}
	}

	/**
	 * Run one pass with the stored settings (the action's callback).
	 */
	public static function run_scheduled() {
		$settings = Relay_Payments_Settings::load();
		if ( 'yes' !== $settings['enabled'] || ! Relay_Payments_Settings::is_complete( $settings ) ) {
			return;
		}
		( new self( new Relay_Payments_Client( $settings ) ) )->run( time() );
	}

	/**
	 * The relay's store API.
	 *
	 * @var Relay_Payments_Client
	 */
	private $client;

	/**
	 * Build a pass.
	 *
	 * @param Relay_Payments_Client $client The relay's store API.
	 */
	public function __construct( $client ) {
		$this->client = $client;
	}

	/**
	 * Re-read and apply the open invoices of recent unsettled orders.
	 *
	 * @param int $now Unix time.
	 * @return array{orders: int, read: int, applied: int, errors: int} What the pass did.
	 */
	public function run( $now ) {
		$days   = (int) apply_filters( 'relay_payments_sync_days', 3 );
		$orders = wc_get_orders(
			array(
				'payment_method' => 'relay',
				'status'         => array( 'pending', 'on-hold', 'failed', 'cancelled' ),
				'date_created'   => '>' . ( $now - $days * DAY_IN_SECONDS ),
				'limit'          => self::BATCH,
				'orderby'        => 'date',
				'order'          => 'DESC',
			)
		);
		$counts = array(
			'orders'  => 0,
			'read'    => 0,
			'applied' => 0,
			'errors'  => 0,
		);
		foreach ( $orders as $order ) {
			$ids = Relay_Payments_Orders::invoice_ids( $order );
			if ( ! $ids ) {
				continue;
			}
			++$counts['orders'];
			foreach ( $ids as $id ) {
				$known = Relay_Payments_Orders::states( $order );
				if ( isset( $known[ $id ] ) && in_array( $known[ $id ], array( 'settled', 'invalid' ), true ) ) {
					continue;
				}
				$invoice = $this->client->get_invoice( $id );
				if ( is_wp_error( $invoice ) ) {
					++$counts['errors'];
					Relay_Payments_Callback::log( 'scheduled pass: cannot re-read invoice ' . $id . ': ' . $invoice->get_error_code() );
					continue;
				}
				++$counts['read'];
				if ( ! Relay_Payments_Orders::owns( $order, $invoice ) ) {
					continue;
				}
				if ( 'applied' === Relay_Payments_Orders::apply( $order, $invoice ) ) {
					++$counts['applied'];
				}
			}
		}
		return $counts;
	}
}
