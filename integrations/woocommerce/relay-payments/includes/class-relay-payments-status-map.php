<?php
/**
 * What an invoice's state means for its WooCommerce order (pure: no WordPress calls but __()).
 *
 * DESIGN.md "Invoice statuses" and the default WooCommerce mapping, as the plugin applies it:
 * - processing (paid, confirming)  → on-hold with a note;
 * - settled                        → payment_complete(tx hash) with a note (paid_late / paid_over noted);
 * - expired, unpaid                → failed with a note, so the customer can pay again;
 * - expired with paid_partial      → on-hold with a note for the merchant;
 * - invalid                        → failed with a note;
 * and its rules: an order already processing, completed or refunded is never moved; only the
 * order's current invoice may fail it or hold it for a partial payment (an older one that expires
 * while a newer one is open changes nothing), while any of its invoices may pay it.
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * The mapping from (invoice, order status) to one action on the order.
 */
class Relay_Payments_Status_Map {

	/**
	 * Order statuses no invoice ever moves (WooCommerce shows them as paid or settled by hand).
	 */
	const PAID_STATUSES = array( 'processing', 'completed', 'refunded' );

	/**
	 * Order statuses WooCommerce lets take payment (`woocommerce_valid_order_statuses_for_payment`).
	 */
	const UNPAID_STATUSES = array( 'pending', 'failed' );

	/**
	 * Decide what to do with the order.
	 *
	 * @param array<string, mixed> $invoice      The invoice JSON as the relay's store route answers it.
	 * @param string               $order_status The order's status without the `wc-` prefix.
	 * @param bool                 $is_current   Whether this is the order's newest invoice.
	 * @return array{action: string, note: string, transaction_id: string} action is one of
	 *         `none`, `note` (a private note only), `on-hold`, `failed`, `complete` (payment_complete).
	 */
	public static function decide( $invoice, $order_status, $is_current ) {
		$status    = isset( $invoice['status'] ) && is_string( $invoice['status'] ) ? $invoice['status'] : '';
		$exception = isset( $invoice['exception'] ) && is_string( $invoice['exception'] ) ? $invoice['exception'] : '';
		$id        = isset( $invoice['id'] ) && is_string( $invoice['id'] ) ? $invoice['id'] : '';
		$tx_hash   = self::last_tx_hash( $invoice );
		$paid      = in_array( $order_status, self::PAID_STATUSES, true );
		$unpaid    = in_array( $order_status, self::UNPAID_STATUSES, true );

		if ( 'settled' === $status ) {
			if ( $paid || ! in_array( $order_status, array( 'pending', 'failed', 'on-hold', 'cancelled' ), true ) ) {
				return self::none();
			}
			if ( 'paid_late' === $exception ) {
				/* translators: 1: invoice id, 2: transaction hash */
				$note = __( 'Crypto payment settled after the invoice %1$s had expired (paid late); transaction %2$s.', 'relay-payments' );
			} elseif ( 'paid_over' === $exception ) {
				/* translators: 1: invoice id, 2: transaction hash */
				$note = __( 'Crypto payment settled for invoice %1$s, more than the amount due (paid over); transaction %2$s.', 'relay-payments' );
			} else {
				/* translators: 1: invoice id, 2: transaction hash */
				$note = __( 'Crypto payment settled for invoice %1$s; transaction %2$s.', 'relay-payments' );
			}
			if ( 'cancelled' === $order_status ) {
				$note .= ' ' . __( 'The order had been cancelled: it is reopened because it is paid.', 'relay-payments' );
			}
			return self::act( 'complete', sprintf( $note, $id, $tx_hash ), $tx_hash );
		}

		if ( $paid ) {
			if ( 'invalid' === $status ) {
				/* translators: %s: invoice id */
				return self::act( 'note', sprintf( __( 'Warning: invoice %s is now invalid (a payment was not confirmed, or left the chain after settlement). The order was not changed; check the payment before shipping.', 'relay-payments' ), $id ), '' );
			}
			return self::none();
		}

		if ( 'processing' === $status ) {
			$late = 'paid_late' === $exception ? ' ' . __( '(paid after the invoice had expired)', 'relay-payments' ) : '';
			/* translators: 1: invoice id, 2: " (paid after the invoice had expired)" or nothing */
			$note = sprintf( __( 'Crypto payment received for invoice %1$s%2$s; waiting for confirmations.', 'relay-payments' ), $id, $late );
			if ( $unpaid ) {
				return self::act( 'on-hold', $note, '' );
			}
			return 'on-hold' === $order_status ? self::act( 'note', $note, '' ) : self::none();
		}

		if ( 'expired' === $status ) {
			if ( 'paid_partial' === $exception ) {
				/* translators: %s: invoice id */
				$note = sprintf( __( 'Invoice %s expired with only part of the amount paid: contact the customer (pay the rest, or refund).', 'relay-payments' ), $id );
				return $is_current && $unpaid ? self::act( 'on-hold', $note, '' ) : self::act( 'note', $note, '' );
			}
			if ( $is_current && 'pending' === $order_status ) {
				/* translators: %s: invoice id */
				return self::act( 'failed', sprintf( __( 'Invoice %s expired unpaid. The customer can still pay the order from its payment link (a new invoice is opened).', 'relay-payments' ), $id ), '' );
			}
			return self::none();
		}

		if ( 'invalid' === $status ) {
			/* translators: %s: invoice id */
			$note = sprintf( __( 'Invoice %s is invalid: a payment was seen but not confirmed in time.', 'relay-payments' ), $id );
			if ( $is_current && in_array( $order_status, array( 'pending', 'on-hold' ), true ) ) {
				return self::act( 'failed', $note, '' );
			}
			return self::act( 'note', $note, '' );
		}

		if ( 'new' === $status && 'paid_partial' === $exception && ( $unpaid || 'on-hold' === $order_status ) ) {
			/* translators: %s: invoice id */
			return self::act( 'note', sprintf( __( 'Part of the amount of invoice %s has been paid; waiting for the rest.', 'relay-payments' ), $id ), '' );
		}

		return self::none();
	}

	/**
	 * Return the transaction hash of the invoice's last payment, or ''.
	 *
	 * @param array<string, mixed> $invoice The invoice JSON.
	 * @return string
	 */
	private static function last_tx_hash( $invoice ) {
		$payments = isset( $invoice['payments'] ) && is_array( $invoice['payments'] ) ? $invoice['payments'] : array();
		$tx_hash  = '';
		foreach ( $payments as $payment ) {
			if ( is_array( $payment ) && isset( $payment['tx_hash'] ) && is_string( $payment['tx_hash'] ) ) {
				$tx_hash = $payment['tx_hash'];
			}
		}
		return $tx_hash;
	}

	/**
	 * Return an action.
	 *
	 * @param string $action         The action.
	 * @param string $note           Its note.
	 * @param string $transaction_id The transaction id for payment_complete.
	 * @return array{action: string, note: string, transaction_id: string}
	 */
	private static function act( $action, $note, $transaction_id ) {
		return array(
			'action'         => $action,
			'note'           => $note,
			'transaction_id' => $transaction_id,
		);
	}

	/**
	 * Return "do nothing".
	 *
	 * @return array{action: string, note: string, transaction_id: string}
	 */
	private static function none() {
		return self::act( 'none', '', '' );
	}
}
